"""Cross-compilation for sm_90 without a GPU, in supervised workers: real failures only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from checker.categories import Category
from checker.compile import max_warps_for_registers
from checker.pool import CompileJob, CompileWorker, Died, Error, Ok, TimedOut
from checker.results.jsonl import read_records
from checker.targets import get_target


def _by_name(p: pytest.Pytester) -> dict:
    return {r.case.name: r for r in read_records(p.path / "reports" / "results.jsonl")}


def test_real_numel_overflow_and_shared_memory_overuse(compile_dir: pytest.Pytester) -> None:
    result = compile_dir.runpytest("--configs", "0", "--compile", "full", "-p", "no:xdist")
    result.assert_outcomes(failed=2, skipped=2)
    recs = _by_name(compile_dir)
    numel = recs["add[2048x1024-fp32-wide]"]
    assert numel.category is Category.NUMEL_OVERFLOW
    assert numel.fields["numel"] == 2097152 and numel.fields["limit"] == 1048576
    assert numel.fields["block_shape"] == [2048, 1024]
    assert numel.fields["source_file"] == "add.py" and "x[tile]" in numel.fields["source"]
    smem = recs["mm[512x512x512-fp32-huge]"]
    assert smem.category is Category.OUT_OF_RESOURCES
    assert smem.fields["limit"] == 232448 and smem.fields["required"] > 232448
    ok = recs["mm[512x512x512-fp32-default]"]
    assert ok.category is Category.NOT_RUN and ok.mode == "compile-only"
    assert ok.fields["shared_memory"] >= 0 and ok.fields["registers"] > 0 and ok.fields["num_warps"] >= 1
    assert "--compile full" in (numel.repro or "")


def test_default_on_cpu_checks_full_shapes_before_llvm(compile_dir: pytest.Pytester) -> None:
    """--compile auto (the default) stops after shared-memory allocation: same findings, no ptxas."""
    result = compile_dir.runpytest("--configs", "0", "-p", "no:xdist")
    result.assert_outcomes(failed=2, skipped=2)
    recs = _by_name(compile_dir)
    assert recs["add[2048x1024-fp32-wide]"].category is Category.NUMEL_OVERFLOW
    smem = recs["mm[512x512x512-fp32-huge]"]
    assert smem.category is Category.OUT_OF_RESOURCES and smem.fields["resource"] == "shared memory"
    assert smem.stages.get("compile.llir", 0) < 5  # rejected before LLVM lowering ran
    ok = recs["mm[512x512x512-fp32-default]"]
    assert ok.mode == "compile-only" and ok.fields["compile_level"] == "check"
    assert ok.fields["registers"] is None and "compile.ttgir" in ok.stages
    assert "--compile" not in (ok.repro or "")


def test_the_check_level_is_kept_when_tritons_cache_holds_the_full_build(
    compile_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A check-level compile (the CPU default) once loaded the binary a full compile had left in
    Triton's cache and answered as level full, registers included: the verdict depended on
    ~/.triton/cache. It must compile to its own level whatever Triton's cache holds."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton-cache"))
    compile_dir.runpytest("--configs", "0", "-p", "no:xdist", "--compile", "full", "--no-cache")
    assert _by_name(compile_dir)["mm[512x512x512-fp32-default]"].fields["compile_level"] == "full"
    compile_dir.runpytest("--configs", "0", "-p", "no:xdist", "--no-cache")
    ok = _by_name(compile_dir)["mm[512x512x512-fp32-default]"]
    assert ok.fields["compile_level"] == "check" and ok.fields["registers"] is None, ok.fields


def test_register_file_limits_warps() -> None:
    sm90 = get_target("sm_90")
    # 64 registers x 32 threads = 2048 per warp: 32 warps fit in 65536; 65 rounds up to 72 -> 28.
    assert max_warps_for_registers(64, sm90) == 32
    assert max_warps_for_registers(65, sm90) == 28
    assert max_warps_for_registers(255, sm90) == 8


def test_tiny_compile_timeout_kills_the_worker(compile_dir: pytest.Pytester) -> None:
    result = compile_dir.runpytest(
        *("--configs", "0", "--compile", "full", "--compile-timeout", "0.05"),
        *("-k", "mm and default", "-p", "no:xdist"),
    )
    result.assert_outcomes(failed=1)
    rec = _by_name(compile_dir)["mm[512x512x512-fp32-default]"]
    # Killed for its CPU time (0.05 GPU-host CPU s at host speed 1, tests/conftest.py), long
    # before the wall backstop.
    assert rec.category is Category.COMPILE_TIMEOUT and rec.fields["cpu_limit_s"] == 0.05, rec.fields
    assert rec.fields["timeout_s"] == 0.5 and rec.fields["cpu_s"] >= 0.05


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
        assert isinstance(outcome, TimedOut)
        assert worker.pid is None
    finally:
        worker.close()


@pytest.mark.parametrize(("fault", "sig"), [("segv", "SIGSEGV"), ("abort", "SIGABRT")])
def test_crashing_worker_is_reported_and_replaced(fault: str, sig: str) -> None:
    worker = CompileWorker()
    try:
        outcome = worker.run(CompileJob("", "x", (), get_target("sm_90"), fault=fault), timeout_s=60)
        assert isinstance(outcome, Died) and outcome.signal == sig and outcome.crash_signal
        # The next job gets a fresh worker: a bad (empty) program is an ordinary error again.
        again = worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=60)
        assert isinstance(again, Error)
    finally:
        worker.close()


def test_no_orphans_after_a_hang() -> None:
    worker = CompileWorker()
    worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=60)
    pgid = worker.pid
    assert pgid is not None
    outcome = worker.run(CompileJob("", "x", (), get_target("sm_90"), fault="hang"), timeout_s=1.0)
    assert isinstance(outcome, TimedOut)
    assert _live_members(pgid) == [], "the worker and its child (sleep) must be gone"
    worker.close()


def test_cpu_sees_the_targets_smallest_dot() -> None:
    """fp8 dots need K >= 32 on sm_90 (Triton's nvidia backend); Helion asks it for CUDA devices
    only, so the CPU answer is patched: otherwise CPU samples K=16 fp8 configs an H100 never gets."""
    import helion._compat as compat

    from checker import targets

    targets.use_target_on_cpu(get_target("sm_90"))
    cpu = torch.device("cpu")
    assert compat.min_dot_size(cpu, torch.float8_e4m3fn, torch.float8_e4m3fn)[2] == 32
    assert compat.min_dot_size(cpu, torch.float16, torch.float16)[2] == 16


def test_bundled_sweep_samples_configs_that_overflow_numel(pytester: pytest.Pytester) -> None:
    """Helion's own config space, sampled for the bundled block_absmax kernel, overflows Triton's
    tensor limit: its [tile_m, 128, tile_n, 128] tile is not constrained by Helion 1.4."""
    root = Path(__file__).resolve().parents[1]
    pytester.makeini(f"[pytest]\nkcheck_kernel_paths = {root / 'kernels'}\n")
    select = "8192x2048 and fp32 and cfg"
    args = ["-k", select, "--configs", "8", "--shapes", "full", "-p", "no:xdist"]
    result = pytester.runpytest(str(root / "kernels" / "block_absmax.py"), *args)
    recs = _by_name(pytester)
    assert len(recs) == 8, result.stdout.str()[-2000:]
    overflows = [r for r in recs.values() if r.category is Category.NUMEL_OVERFLOW]
    assert overflows, sorted((r.case.name, r.category.value) for r in recs.values())
    for rec in overflows:
        assert rec.case.config.startswith("cfg")  # sampled, not a named config
        shape = rec.fields["block_shape"]
        assert shape[1] == shape[3] == 128 and rec.fields["numel"] > rec.fields["limit"] == 1048576
        assert rec.fields["source_line"] > 0 and "xv[tm, :, tn, :]" in rec.fields["source"]
    # One cause, one signature, whatever the config.
    assert len({r.signature for r in overflows}) == 1


def test_a_started_worker_answers_its_queued_jobs_first() -> None:
    """Worker.start queues the warm-up (and jobs) without waiting; run() reads those answers
    before its own job, and a queued job that kills the worker is reported by settle()."""
    worker = CompileWorker()
    try:
        worker.start()
        assert worker.alive and worker.pending
        again = worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=60)
        assert isinstance(again, Error) and not worker.pending  # the empty program's own error
        pid = worker.pid
        worker.start()  # running: left as it is
        assert worker.pid == pid and not worker.pending
        worker.kill()
        worker.start((CompileJob("", "x", (), get_target("sm_90"), fault="segv"), 60.0))
        died = worker.settle()
        assert isinstance(died, Died) and died.signal == "SIGSEGV"
        assert not worker.alive and not worker.pending and worker.settle() is None
    finally:
        worker.close()


def test_host_code_reading_small_integer_inputs_sees_their_values() -> None:
    """Helion's jagged examples size their output from ``int(x_offsets[-1].item())`` in host
    code. The compile worker used to get uninitialized memory there (the host code then asked for
    petabytes and the checker blamed the kernel: ex_jagged_softmax, 6 of 8 runtime-errors on
    CPU); now small integer tensors travel with their values, and only when they are real."""
    from checker import codegen, loader
    from checker.compile import HOST_READABLE_MAX_NUMEL, describe_args

    jagged_rows = loader.load(Path(__file__).parent / "compile_kernels" / "jagged_rows.py").jagged_rows

    x = torch.randn(17)
    offsets = torch.tensor([0, 5, 9, 17], dtype=torch.int64)
    bound = jagged_rows.bind((x, offsets))
    code = codegen.generate(bound, bound.config_spec.default_config())
    described = describe_args((x, offsets), values=True)
    assert described[1].values == (0, 5, 9, 17) and described[0].values is None
    assert described[1].materialize().tolist() == [0, 5, 9, 17]  # what the worker's host code reads
    assert describe_args((x, offsets))[1].values is None  # layout-only stand-ins: no values
    big = torch.zeros(HOST_READABLE_MAX_NUMEL + 1, dtype=torch.int32)
    assert describe_args((big,), values=True)[0].values is None
    worker = CompileWorker()
    try:
        outcome = worker.run(CompileJob(code, jagged_rows.name, described, get_target("sm_90"), "check"), 120)
        assert isinstance(outcome, Ok), outcome
    finally:
        worker.close()


def test_copies_of_expanded_inputs_keep_the_strides_the_kernel_was_compiled_for() -> None:
    """static_shapes kernels are specialized on their inputs' strides; the checker ran them on
    ``prepare.clone`` copies, which made an expanded scale (stride 0) contiguous, and the
    kernel read the wrong scales: Helion's fp8_matmul example failed all 8 small cases on CPU
    as numerical-mismatch, the checker's fault."""
    from checker import loader, prepare

    row_scale = loader.load(Path(__file__).parent / "compile_kernels" / "row_scale.py").row_scale
    x = torch.randn(8, 16)
    scale = torch.randn(8, 1).expand(8, 16)
    copies = tuple(prepare.clone(v) for v in (x, scale))
    assert copies[1].stride() == scale.stride() and copies[1].data_ptr() != scale.data_ptr()
    bound = row_scale.bind((x, scale))
    compiled = bound.compile_config(bound.config_spec.default_config(), allow_print=False)
    torch.testing.assert_close(compiled(*copies), x * scale, rtol=0, atol=0)
