"""``--benchmark`` in the pytest plugin, in-process with pytester on the tiny add kernel (CPU)."""

from __future__ import annotations

import json

import pytest
from invariant import check_run

from checker import perf_plugin
from checker.perf import bench
from checker.perf.records import Role, TimingRecord

ARGS = ("--configs", "1", "--shapes", "small", "-p", "no:xdist")


def _lines(p: pytest.Pytester) -> list[dict]:
    text = (p.path / "reports" / "results.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_benchmark_on_cpu_says_so_and_times_nothing(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest("--benchmark", *ARGS)
    result.assert_outcomes(passed=6)  # 1 small shape x 2 dtypes x (2 named + 1 sampled)
    result.stdout.fnmatch_lines([f"*{perf_plugin.NO_GPU_MESSAGE}*"])
    assert all("kind" not in line for line in _lines(kernel_dir))
    check_run(kernel_dir.path / "reports", result.ret)


def test_without_benchmark_nothing_is_said(kernel_dir: pytest.Pytester) -> None:
    args = ("--configs", "0", "--shapes", "small", "-k", "fp32", "-p", "no:xdist")
    result = kernel_dir.runpytest(*args, "--isolate", "off", "--compile", "off")
    assert perf_plugin.NO_GPU_MESSAGE not in result.stdout.str()


def test_timings_follow_the_cases_and_are_no_cases(
    kernel_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU path with the GPU part faked: the interpreter's passing cases stand in for native
    ones, and the benchmark process is replaced by one that times every config at 1 ms."""
    jobs: list[bench.BenchJob] = []

    def fake_run_job(job: bench.BenchJob, timeout_s: float) -> bench.JobResult:
        jobs.append(job)
        out = bench.JobResult(problems=["fp16 torch.compile: not timed"])
        for g in job.groups:
            for cfg, role in [*((c, Role.NAMED) for c in g.named), *((c, Role.SAMPLED) for c in g.sampled)]:
                out.records.append(
                    TimingRecord(g.kernel, g.shape, g.dtype, cfg.name, role, 1.0, config=cfg.config)
                )
            out.records.append(TimingRecord(g.kernel, g.shape, g.dtype, "torch-eager", Role.EAGER, 2.0))
        return out

    monkeypatch.setattr(perf_plugin, "_native", lambda state: True)
    monkeypatch.setattr(perf_plugin, "TIMED_MODES", perf_plugin.TIMED_MODES | {"interpreter"})
    monkeypatch.setattr(bench, "run_job", fake_run_job)
    result = kernel_dir.runpytest("--benchmark", "--benchmark-no-compile", *ARGS)
    result.assert_outcomes(passed=6)
    (job,) = jobs
    assert job.torch_compile is False
    groups = sorted(
        (g.dtype, sorted(c.name for c in g.named), [c.name for c in g.sampled]) for g in job.groups
    )
    assert groups == [("fp16", ["default", "wide"], ["cfg0"]), ("fp32", ["default", "wide"], ["cfg0"])]
    lines = _lines(kernel_dir)
    kinds = [line.get("kind") for line in lines]
    assert kinds == [None] * 6 + ["timing"] * 8, "timings after every case record"
    records = check_run(kernel_dir.path / "reports", result.ret)
    assert len(records) == 6
    result.stdout.fnmatch_lines(["*kcheck benchmark*", "*config*x eager*", "*benchmark: fp16 torch.compile*"])
    result.stdout.fnmatch_lines(["*8 timing records appended to results.jsonl*"])
