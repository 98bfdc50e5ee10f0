"""Cross-compilation for sm_90 without a GPU, in supervised workers: real failures only."""

from __future__ import annotations

import os
import textwrap

import pytest
from conftest import ADD_KERNEL

from checker.model import Category
from checker.pool import CompileJob, CompileWorker
from checker.report.jsonl import read_records
from checker.targets import get_target

MATMUL = textwrap.dedent(
    """
    import helion
    import helion.language as hl
    import torch

    from checker.spec import DEFAULT, KernelSpec


    @helion.kernel(static_shapes=True)
    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        m, k = a.size()
        _, n = b.size()
        out = torch.empty([m, n], dtype=a.dtype, device=a.device)
        for tile_m, tile_n in hl.tile([m, n]):
            acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
            for tile_k in hl.tile(k):
                acc = torch.addmm(acc, a[tile_m, tile_k], b[tile_k, tile_n])
            out[tile_m, tile_n] = acc.to(out.dtype)
        return out


    SPEC = KernelSpec(
        name="mm",
        kernel=mm,
        reference=lambda a, b: a @ b,
        make_inputs=lambda shape, dtype, gen: (
            torch.randn(shape[0], shape[2], generator=gen).to(dtype),
            torch.randn(shape[2], shape[1], generator=gen).to(dtype),
        ),
        shapes=[(512, 512, 512)],
        small_shapes=[],
        dtypes=[torch.float32],
        configs={
            "default": DEFAULT,
            # 256x256 fp32 tiles, K step 128, 4 stages: far over sm_90's 232448 bytes of smem.
            "huge": helion.Config(block_sizes=[256, 256, 128], num_warps=8, num_stages=4),
        },
    )
    """
)


@pytest.fixture
def compile_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    # add on a 2048x1024 full shape: block [2048, 1024] needs a 2M-element tile (Triton max 1M).
    add = ADD_KERNEL.replace("REFERENCE", "reference").replace("EXTRA", "")
    add = add.replace("shapes=[(64, 96)]", "shapes=[(2048, 1024)]").replace(
        "small_shapes=[(8, 16)]", "small_shapes=[]"
    )
    add = add.replace("block_sizes=[8, 16], num_warps=2", "block_sizes=[2048, 1024], num_warps=4")
    add = add.replace("dtypes=[torch.float32, torch.float16]", "dtypes=[torch.float32]")
    (pytester.path / "kernels" / "add.py").write_text(add)
    (pytester.path / "kernels" / "mm.py").write_text(MATMUL)
    return pytester


def _by_name(p: pytest.Pytester) -> dict:
    return {r.case.name: r for r in read_records(p.path / "reports" / "results.jsonl")}


def test_real_numel_overflow_and_shared_memory_overuse(compile_dir: pytest.Pytester) -> None:
    result = compile_dir.runpytest("--configs", "0", "--compile", "-p", "no:xdist")
    result.assert_outcomes(failed=2, skipped=2)
    recs = _by_name(compile_dir)
    numel = recs["add[2048x1024-fp32-wide]"]
    assert numel.category is Category.NUMEL_OVERFLOW
    assert numel.fields["numel"] == 2097152 and numel.fields["limit"] == 1048576
    smem = recs["mm[512x512x512-fp32-huge]"]
    assert smem.category is Category.OUT_OF_RESOURCES
    assert smem.fields["limit"] == 232448 and smem.fields["required"] > 232448
    ok = recs["mm[512x512x512-fp32-default]"]
    assert ok.category is Category.NOT_RUN and ok.mode == "compile-only"
    assert ok.fields["shared_memory"] >= 0 and ok.fields["registers"] > 0 and ok.fields["num_warps"] >= 1
    assert "--compile" in (numel.repro or "")


def test_tiny_compile_timeout_kills_the_worker(compile_dir: pytest.Pytester) -> None:
    result = compile_dir.runpytest(
        "--configs", "0", "--compile", "--compile-timeout", "0.05", "-k", "mm and default", "-p", "no:xdist"
    )
    result.assert_outcomes(failed=1)
    rec = _by_name(compile_dir)["mm[512x512x512-fp32-default]"]
    assert rec.category is Category.COMPILE_TIMEOUT and rec.fields["timeout_s"] == 0.05


def _live_members(pgid: int) -> list[str]:
    """Processes of group ``pgid`` that are not zombies (a killed child may linger as a zombie
    until PID 1 reaps it; it holds no resources)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(entry)
    return found


def test_hanging_compile_is_killed_with_its_process_group() -> None:
    worker = CompileWorker()
    try:
        outcome = worker.run(CompileJob("", "x", (), get_target("sm_90"), fault="hang"), timeout_s=1.0)
        assert outcome.kind == "timeout"
        assert worker.pid is None
    finally:
        worker.close()


@pytest.mark.parametrize(("fault", "sig"), [("segv", "SIGSEGV"), ("abort", "SIGABRT")])
def test_crashing_worker_is_reported_and_replaced(fault: str, sig: str) -> None:
    worker = CompileWorker()
    try:
        outcome = worker.run(CompileJob("", "x", (), get_target("sm_90"), fault=fault), timeout_s=60)
        assert outcome.kind == "died" and outcome.signal == sig and outcome.fields["crash_signal"]
        # The next job gets a fresh worker: a bad (empty) program is an ordinary error again.
        again = worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=60)
        assert again.kind == "error"
    finally:
        worker.close()


def test_no_orphans_after_a_hang() -> None:
    worker = CompileWorker()
    worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=60)
    pgid = worker.pid
    assert pgid is not None
    outcome = worker.run(CompileJob("", "x", (), get_target("sm_90"), fault="hang"), timeout_s=1.0)
    assert outcome.kind == "timeout"
    assert _live_members(pgid) == [], "the worker and its child (sleep) must be gone"
    worker.close()
