"""Native execution on a CUDA GPU (skipped cleanly without one).

Each inner run is a subprocess: a second in-process run re-imports torch modules that register
custom ops once per process, which broke the third test on the H100 machine's torch build.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from checker.categories import Category
from checker.results.jsonl import read_records
from checker.targets import TARGETS, local_cuda_target

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_cases_run_natively_on_the_local_gpu(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest_subprocess("--configs", "1", "--device", "cuda", "-p", "no:xdist")
    # full and small shapes both run natively: 2 shapes x 2 dtypes x 3 configs
    result.assert_outcomes(passed=12)
    records = list(read_records(kernel_dir.path / "reports" / "results.jsonl"))
    assert {r.mode for r in records} == {"native"}
    assert all(r.category is Category.PASSED and r.target.startswith("sm_") for r in records)
    # --compile auto on a GPU: each case was compiled fully in a supervised worker first, and the
    # native launch loaded that cubin from Triton's cache instead of compiling in-process.
    assert all(r.fields["compile_level"] == "full" and r.fields["registers"] for r in records)
    assert all(r.fields["launch_cache_hit"] is True for r in records)


def test_another_target_on_a_gpu_is_a_usage_error(kernel_dir: pytest.Pytester) -> None:
    local = local_cuda_target()
    assert local is not None
    other = next(name for name in TARGETS if name != local.name)
    result = kernel_dir.runpytest_subprocess("--device", "cuda", "--target", other, "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*on a GPU the local device ({local.name}) is the target*"])


def test_compile_failures_are_found_in_the_worker_before_launch(compile_dir: pytest.Pytester) -> None:
    result = compile_dir.runpytest_subprocess("--configs", "0", "--device", "cuda", "-p", "no:xdist")
    result.assert_outcomes(failed=2, passed=2)
    recs = {r.case.name: r for r in read_records(compile_dir.path / "reports" / "results.jsonl")}
    assert recs["add[2048x1024-fp32-wide]"].category is Category.NUMEL_OVERFLOW
    smem = recs["mm[512x512x512-fp32-huge]"]
    assert smem.category is Category.OUT_OF_RESOURCES and smem.fields["resource"] == "shared memory"
    assert smem.fields["limit"] == local_cuda_target().max_shared_memory  # type: ignore[union-attr]


def test_outputs_are_compared_on_the_device_with_the_host_comparisons_verdict() -> None:
    """numerics.compare runs where both tensors are (issue 15: no copy of a large output to the
    host); its verdict and statistics equal those of the same comparison on the CPU."""
    from checker.numerics import compare
    from checker.spec import Tolerance

    gen = torch.Generator().manual_seed(0)
    expected = torch.randn(512, 384, generator=gen, dtype=torch.float64)
    actual = expected.to(torch.bfloat16)
    actual[7, 9] = 3.0  # one real mismatch
    actual[100, 5] = float("nan")  # and one non-finite one
    tol = Tolerance(1.6e-2, 1e-2, reason="test")
    on_host = compare(actual, expected, torch.bfloat16, tol)
    on_gpu = compare(actual.cuda(), expected.cuda(), torch.bfloat16, tol)
    # repr: the worst element is the NaN, and NaN != NaN would fail a plain ==.
    assert repr(on_gpu) == repr(on_host)
    assert on_host.category is Category.NONFINITE_MISMATCH
    actual[100, 5] = expected[100, 5].to(torch.bfloat16)
    assert compare(actual.cuda(), expected.cuda(), torch.bfloat16, tol) == compare(
        actual, expected, torch.bfloat16, tol
    )


def test_a_warm_rerun_launches_cached_binaries_without_compiling(
    kernel_dir: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 on a GPU: a rerun takes each passing case's compile verdict from the cache and
    launches the binary Triton's cache kept, without a compile worker; once Triton's cache is
    gone, the worker compiles again (under its timeout) before the launch, which loads that."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    args = ("--configs", "1", "--device", "cuda", "-p", "no:xdist", f"--cache-dir={tmp_path / 'kc'}")

    def run() -> dict[str, Any]:
        kernel_dir.runpytest_subprocess(*args).assert_outcomes(passed=12)
        return {r.case.name: r for r in read_records(kernel_dir.path / "reports" / "results.jsonl")}

    cold = run()
    assert not any(r.fields.get("compile_cached") for r in cold.values())
    warm = run()
    for name, rec in warm.items():
        assert rec.fields["compile_cached"] is True and rec.fields["launch_cache_hit"] is True, name
        assert rec.fields["registers"] == cold[name].fields["registers"], name
        assert not any(s.startswith("compile.") for s in rec.stages), name  # nothing compiled
    shutil.rmtree(tmp_path / "triton")
    again = run()
    for name, rec in again.items():
        assert not rec.fields.get("compile_cached") and rec.fields["launch_cache_hit"] is True, name
