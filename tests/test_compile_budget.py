"""Compile timeouts judged in CPU seconds of the compile worker, scaled to the host
(checker.hostspeed, checker.attempts), and the ``full-shapes`` compile policy: real compiles of a
bundled kernel's full-shape config to a cubin, on CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checker import hostspeed, run_options
from checker.attempts import compile_attempts
from checker.cache import keys
from checker.cache.store import EntryStore, Kind
from checker.categories import Category
from checker.choices import CompilePolicy
from checker.model import Record
from checker.pool import CompileJob, CompileWorker, Ok, TimedOut
from checker.results.jsonl import read_records
from checker.run_options import Level
from checker.targets import get_target

REPO = Path(__file__).resolve().parent.parent
SM90 = get_target("sm_90")
#: A full-shape config of a bundled kernel: 0.4 CPU s (2.5 s of wall at load 17) to a cubin on
#: the 2-core machine, most of it in LLVM and ptxas (``compile.llir``, ``compile.cubin``).
CASE = "block_absmax[4096x4096-fp32-two_wide]"


def test_full_shapes_policy_compiles_only_what_does_not_run_to_a_cubin() -> None:
    cpu = run_options.RunOptions(0, SM90, native=False, n_configs=0, compile=CompilePolicy.FULL_SHAPES)
    assert cpu.compile_level(executes=False) is Level.FULL
    assert cpu.compile_level(executes=True) is Level.CHECK
    gpu = run_options.RunOptions(0, SM90, native=True, n_configs=0, compile=CompilePolicy.FULL_SHAPES)
    assert gpu.compile_level(executes=True) is Level.FULL


def test_a_spinning_job_is_killed_for_cpu_time_before_its_wall_limit() -> None:
    """The CPU limit stops a busy job long before the wall backstop, and says so."""
    worker = CompileWorker()
    try:
        attempts = compile_attempts(worker, CompileJob("", "x", (), SM90, fault="spin"), 1.0, 2.0)
    finally:
        worker.close()
    outcome = attempts.outcome
    assert isinstance(outcome, TimedOut) and outcome.by_cpu and attempts.first is None
    assert outcome.cpu_limit_s == 2.0 and outcome.cpu_s is not None and outcome.cpu_s >= 2.0
    assert outcome.timeout_s == 20.0  # the backstop: WALL_BACKSTOP x the CPU limit
    assert outcome.seconds < outcome.timeout_s


def test_host_speed_is_measured_once_per_host_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real measurement (the reference compile, to a cubin) in a compile worker; a later
    process takes it from the cache without starting a worker."""
    monkeypatch.delenv(hostspeed.FACTOR_ENV, raising=False)
    monkeypatch.setattr(hostspeed, "_factor", None)
    worker = CompileWorker()
    try:
        measured = hostspeed.factor(str(tmp_path), worker)
    finally:
        worker.close()
    entry = EntryStore(tmp_path, Kind.HOSTSPEED).get(keys.hostspeed_key(), lambda d: d["reference_cpu_s"])
    assert isinstance(entry, float) and entry > 0
    assert measured == pytest.approx(
        min(hostspeed.MAX_FACTOR, max(hostspeed.MIN_FACTOR, entry / hostspeed.GPU_HOST_REFERENCE_CPU_S))
    )
    monkeypatch.setattr(hostspeed, "_factor", None)
    idle = CompileWorker()
    assert hostspeed.factor(str(tmp_path), idle) == measured and not idle.alive
    monkeypatch.setenv(hostspeed.FACTOR_ENV, "2.5")
    assert hostspeed.factor(str(tmp_path), idle) == 2.5


def test_speed_job_measures_a_real_compile() -> None:
    worker = CompileWorker()
    try:
        outcome = worker.run(hostspeed.SpeedJob(repeats=1), 300.0)
    finally:
        worker.close()
    assert isinstance(outcome, Ok) and isinstance(outcome.result, float) and outcome.result > 0.05
    # The worker's CPU time for the job covers the compile it measured (ptxas included).
    assert outcome.cpu_s is not None and outcome.cpu_s >= 0.9 * outcome.result


def test_a_slow_full_shape_compile_exceeds_a_small_budget_and_a_rerun_does_not_pay_again(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full-shape config of block_absmax compiled to a cubin on CPU (``--compile full-shapes``)
    under a budget of 0.15 GPU-host CPU seconds at host speed 1 is a ``compile-timeout`` killed for
    its CPU time; the rerun takes that verdict from the cache, and a budget large enough compiles
    it again, to the end."""
    monkeypatch.setenv(hostspeed.FACTOR_ENV, "1")
    # An empty Triton cache: a cubin kept from another run would load instead of compiling.
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    shutil.copy(REPO / "kernels" / "block_absmax.py", pytester.path / "kernels" / "block_absmax.py")
    cache = tmp_path / "kc"

    def run(budget: str) -> Record:
        pytester.runpytest(
            "-p", "no:xdist", "--configs", "0", "--shapes", "full", "--compile", "full-shapes",
            "--compile-timeout", budget, f"--cache-dir={cache}", "-k", CASE.split("[")[1].rstrip("]"),
        )  # fmt: skip
        records = {r.case.name: r for r in read_records(pytester.path / "reports" / "results.jsonl")}
        return records[CASE]

    cold = run("0.15")
    assert cold.category is Category.COMPILE_TIMEOUT, (cold.category, cold.message)
    fields = cold.fields
    assert fields["cpu_limit_s"] == 0.15 and fields["cpu_s"] >= 0.15, fields
    assert "GPU-host CPU s" in cold.message
    assert "compile_cached" not in fields

    warm = run("0.15")
    assert warm.category is Category.COMPILE_TIMEOUT and warm.fields["compile_cached"] is True
    assert warm.stages["compile"] < 1.0

    enough = run("300")
    assert enough.category is Category.NOT_RUN, enough.message
    assert "compile_cached" not in enough.fields and enough.fields["compile_level"] == "full"
    assert enough.fields["registers"] is not None and enough.fields["compile_cpu_s"] > 0.15
    # It went through the stages where slow configs spend their time: LLVM lowering and ptxas.
    # (Not a share of the time: under load the frontend's share varies, 0.47 of 0.71 s once.)
    assert all(enough.stages.get(f"compile.{s}", 0.0) > 0 for s in ("llir", "ptx", "cubin")), enough.stages
