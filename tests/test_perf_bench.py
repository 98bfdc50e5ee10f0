"""What the benchmark times (checker/perf/bench.py), with the GPU part faked: runs on CPU."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from recorded_shards import recorded

from checker.categories import Category
from checker.model import Mode
from checker.perf import bench, timing
from checker.perf.records import Role


def test_plan_times_passing_native_cases_only() -> None:
    recs = [r for r in recorded() if r.config is not None][:40]
    native = [dataclasses.replace(r, mode=Mode.NATIVE) for r in recs]
    job = bench.plan(native, ["kernels"], 7, torch_compile=False)
    passing = [r for r in native if r.category is Category.PASSED]
    timed = [(g.kernel, g.shape, g.dtype, c.name) for g in job.groups for c in (*g.named, *g.sampled)]
    assert sorted(timed) == sorted(
        {(r.case.kernel, r.case.shape, r.case.dtype, r.case.config) for r in passing}
    )
    assert all(c.name.startswith("cfg") for g in job.groups for c in g.sampled)
    assert not any(c.name.startswith("cfg") for g in job.groups for c in g.named)
    assert bench.plan(recs, ["kernels"], 7).groups == (), "interpreter records ran on no GPU"
    assert bench.BenchJob.from_json(job.to_json()) == job
    assert job.sweep_seed == 7 and job.torch_compile is False


def test_rotation_only_below_the_l2_multiple() -> None:
    l2 = 50 * 2**20
    assert timing.rotation_count(4 * l2, l2) == 1
    assert timing.rotation_count(l2, l2) == timing.ROTATE_FACTOR
    assert timing.rotation_count(1, l2) == timing.MAX_ROTATION
    assert timing.rotation_count(1000, 0) == 1


def test_bytes_and_flops_of_a_matmul() -> None:
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    out = a @ b
    assert timing.count_bytes((a, b), out) == 4 * (64 * 32 + 32 * 16 + 64 * 16)
    assert timing.count_bytes((a, b), out, mutated=[0]) == 4 * (2 * 64 * 32 + 32 * 16 + 64 * 16)
    assert timing.count_flops(torch.mm, (a, b)) == 2 * 64 * 32 * 16
    assert timing.count_flops(torch.softmax, (a, -1)) == 0


def _fake_spec() -> Any:
    def compile_config(config: Any, allow_print: bool = True) -> Any:
        def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a @ b

        fn.ms = {16: 3.0, 32: 1.0, 64: 2.0, 8: 4.0}[config.config["block_sizes"][0]]  # type: ignore[attr-defined]
        return fn

    def reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b

    reference.ms = 5.0  # type: ignore[attr-defined]
    return SimpleNamespace(
        name="mm",
        make_inputs=lambda shape, dtype, gen: (
            torch.randn(shape[0], shape[2], generator=gen).to(dtype),
            torch.randn(shape[2], shape[1], generator=gen).to(dtype),
        ),
        kernel=SimpleNamespace(bind=lambda args: SimpleNamespace(compile_config=compile_config)),
        reference=reference,
        reference_device=None,
        mutates=(),
        parameter_names=lambda: ["a", "b"],
    )


def test_a_group_times_named_configs_the_best_sampled_one_and_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_bench(
        fn: Any, args: Any, *, rotate: int = 1, warmup_ms: int = 0, rep_ms: int = 0
    ) -> timing.Timed:
        inner = getattr(fn, "ms", None) or _ms_of(fn)
        return timing.Timed(float(inner), (float(inner),) * 3, 3, rotate)

    def _ms_of(fn: Any) -> float:
        # the reference is wrapped by the benchmark (no_grad); find the wrapped function's time
        for cell in fn.__closure__ or ():
            value = cell.cell_contents
            ms = getattr(getattr(value, "reference", None), "ms", None)
            if ms is not None:
                return float(ms)
        raise AssertionError("unknown callable")

    monkeypatch.setattr(timing, "bench", fake_bench)
    cfg = lambda name, block: bench.ConfigJob(name, {"block_sizes": [block, 16, 16]})  # noqa: E731
    group = bench.GroupJob(
        "mm",
        (64, 16, 32),
        "fp32",
        named=(cfg("default", 64), cfg("big", 16)),
        sampled=(cfg("cfg0", 8), cfg("cfg1", 32)),
    )
    job = bench.BenchJob(("kernels",), 0, (group,), torch_compile=False, device="cpu")
    ceilings = {"copy_gbps": 1000.0, "matmul_tflops": 100.0}
    recs = list(bench._time_group(_fake_spec(), group, job, ceilings, {"device": "fake"}))
    got = {(r.impl, r.role): r.median_ms for r in recs}
    assert got == {
        ("default", Role.NAMED): 2.0,
        ("big", Role.NAMED): 3.0,
        ("cfg1", Role.SAMPLED): 1.0,  # the faster of the two sampled configs, only
        ("torch-eager", Role.EAGER): 5.0,
    }
    flops = 2 * 64 * 16 * 32
    assert all(r.flops == flops and r.nbytes == 4 * (64 * 32 + 32 * 16 + 64 * 16) for r in recs)
    assert all(r.ceilings == ceilings and r.device == "fake" for r in recs)
    assert recs[0].config == {"block_sizes": [64, 16, 16]}
