"""Interpreter gaps: the libdevice shim, the bf16 dot widening, the fp8-conversion rule and bf16
arithmetic (real kernels in tests/interp_kernels/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from checker import interpreter
from checker.categories import Category
from checker.results.jsonl import read_records


def test_fp8_conversion_rule() -> None:
    cast = "x = tl.cast(v_0, tl.float8e4nv)\n"
    assert interpreter.unsupported_reason(cast, {torch.float32}) is not None
    # Helion's identity casts around fp8 dots: inputs already fp8.
    assert interpreter.unsupported_reason(cast, {torch.float8_e4m3fn, torch.float32}) is None
    assert interpreter.unsupported_reason("y = tl.dot(a, b)\n", {torch.bfloat16}) is None


def test_unknown_libdevice_function_is_an_interpreter_gap() -> None:
    with pytest.raises(interpreter.InterpreterGap, match=r"libdevice\.lgamma"):
        _ = interpreter.LIBDEVICE_SHIM.lgamma
    assert callable(interpreter.LIBDEVICE_SHIM.rsqrt)
    assert callable(interpreter.LIBDEVICE_SHIM.tanh)  # 2 sigmoid(2x) - 1: geglu runs on CPU


# --- bf16 arithmetic under the interpreter ------------------------------------------------------
#
# Each kernel runs in a subprocess: TRITON_INTERPRET must be set before triton is imported, and
# this process may have imported triton without it (on a GPU machine the plugin leaves it unset).

KERNELS = Path(__file__).parent / "interp_kernels"

#: Cases of interp_kernels/bf16_ops.py that Triton 3.6's interpreter gets wrong on its own.
BROKEN_WITHOUT_PATCH = [
    "sum",
    "add",
    "mul_scalar",
    "int32_to_bf16",
    "fp32_to_bf16",
    "fp16_to_bf16",
    "less",
    "select_negate",
    "full_constant",
    "reduce_max",
    "associative_scan",
    "atomic_add",
]
#: Cases the semantic layer already routes through an exact bf16 -> fp32 cast: guards only.
FAITHFUL_WITHOUT_PATCH = ["bf16_to_int32", "bf16_to_fp16"]


def _run_bf16_ops(*flags: str) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, str(KERNELS / "bf16_ops.py"), *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent.parent,
        timeout=300,
        check=True,
    )
    results: dict[str, dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


@pytest.fixture(scope="module")
def patched() -> dict[str, dict[str, Any]]:
    return _run_bf16_ops()


@pytest.fixture(scope="module")
def unpatched() -> dict[str, dict[str, Any]]:
    return _run_bf16_ops("--no-patch")


def test_bf16_cases_are_all_listed(patched: dict[str, dict[str, Any]]) -> None:
    assert sorted(patched) == sorted(BROKEN_WITHOUT_PATCH + FAITHFUL_WITHOUT_PATCH)


@pytest.mark.parametrize("case", BROKEN_WITHOUT_PATCH)
def test_bf16_op_matches_gpu_rounding(
    case: str, patched: dict[str, dict[str, Any]], unpatched: dict[str, dict[str, Any]]
) -> None:
    assert patched[case]["ok"], patched[case]
    # If this fails, Triton fixed the gap: the matching patch in checker/interpreter.py can go.
    assert not unpatched[case]["ok"], unpatched[case]


@pytest.mark.parametrize("case", FAITHFUL_WITHOUT_PATCH)
def test_bf16_cast_via_fp32_stays_faithful(
    case: str, patched: dict[str, dict[str, Any]], unpatched: dict[str, dict[str, Any]]
) -> None:
    assert patched[case]["ok"] and unpatched[case]["ok"], (patched[case], unpatched[case])


def test_bf16_rounding_helpers() -> None:
    # fp32 -> bf16: nearest even on random bit patterns, as torch's CPU conversion.
    bits = np.random.default_rng(0).integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    ours = interpreter.to_bf16_bits(values)
    theirs = torch.from_numpy(values.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    finite = ~np.isnan(values)
    assert np.array_equal(ours[finite], theirs[finite])
    assert np.isnan(interpreter.bf16_bits_to_f32(ours[~finite])).all()
    # fp64 -> bf16 rounds once: 1 + 2**-8 + 2**-40 is just above a tie (two roundings via fp32
    # would make it the tie and round down to 1.0).
    wide = interpreter.bf16_bits_to_f32(interpreter.to_bf16_bits(np.array([1 + 2**-8 + 2**-40, 1 + 2**-8])))
    assert wide.tolist() == [1 + 2**-7, 1.0]
    with pytest.raises(interpreter.InterpreterGap, match="64-bit integer"):
        interpreter.to_bf16_bits(np.array([2**60], dtype=np.int64))


def test_true_bf16_accumulation_still_fails_on_cpu(pytester: pytest.Pytester) -> None:
    """A kernel that accumulates in bf16 is a numerical mismatch under the patched interpreter;
    the same kernel accumulating in fp32 passes."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    shutil.copy(KERNELS / "bf16_accumulate.py", pytester.path / "kernels" / "bf16_accumulate.py")
    result = pytester.runpytest_subprocess(
        "--device", "cpu", "--shapes", "small", "--configs", "0", "--compile", "off", "-p", "no:xdist"
    )
    records = {r.case.kernel: r for r in read_records(pytester.path / "reports" / "results.jsonl")}
    assert set(records) == {"bf16_acc_sum", "fp32_acc_sum"}, result.stdout.str()
    assert records["fp32_acc_sum"].category is Category.PASSED, records["fp32_acc_sum"].message
    bad = records["bf16_acc_sum"]
    assert bad.category is Category.NUMERICAL_MISMATCH, bad.message
    # The error is bf16 stagnation (~1/3 of the sum lost), not garbage from integer arithmetic.
    assert bad.comparison is not None and 0.1 < bad.comparison.max_rel_err < 0.6, bad.comparison


# --- 16-bit reductions in the GPU's order (docs/numerics.md#reductions-gpu-vs-interpreter) ------


@pytest.mark.parametrize(
    ("shape", "axis", "bits", "num_warps", "expected"),
    [
        # Helion's row sum of a bf16 [1, 1024] tile: 128-bit vectors (8 elements) per thread at 4
        # warps; the cap numel / threads takes over at 16 and 32 warps.
        ((1, 1024), 1, 16, 4, (8, 32, 4)),
        ((1, 1024), 1, 16, 16, (2, 32, 16)),
        ((1, 1024), 1, 16, 32, (1, 32, 32)),
        # fp32 [16, 64]: 4 per thread, 16 lanes on the row, the other 2 lanes and 4 warps on rows.
        ((16, 64), 1, 32, 4, (4, 16, 1)),
        ((16, 64), 0, 32, 4, (1, 2, 4)),
        # 8 elements for 128 threads: lanes 8..31 and warps 1..3 hold copies.
        ((8,), 0, 16, 4, (1, 8, 1)),
    ],
)
def test_reduce_axis_layout_follows_triton_coalescing(
    shape: tuple[int, ...], axis: int, bits: int, num_warps: int, expected: tuple[int, int, int]
) -> None:
    layout = interpreter.reduce_axis_layout(shape, axis, bits, num_warps)
    assert (layout.per_thread, layout.lanes, layout.warps) == expected


def _concat(a: list[np.ndarray[Any, Any]], b: list[np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
    return [
        np.array(
            [f"({x}+{y})" for x, y in zip(a[0].ravel(), b[0].ravel(), strict=True)], dtype=object
        ).reshape(a[0].shape)
    ]


def test_gpu_reduce_order_is_thread_fold_then_butterflies() -> None:
    names = np.array([[str(i) for i in range(8)]], dtype=object)
    # 8 elements, one per lane: shuffle-xor offsets 4, 2, 1.
    (tree,) = interpreter._gpu_reduce([names], 1, _concat, num_warps=1)
    assert tree.tolist() == ["(((0+4)+(2+6))+((1+5)+(3+7)))"]
    # 128 8-byte elements at 2 warps: 2 per thread (folded first), 32 lanes, then the 2 warps.
    wide = np.array([[str(i) for i in range(128)]], dtype=object)
    (out,) = interpreter._gpu_reduce([wide], 1, _concat, num_warps=2)
    assert out[0].startswith("(((((((0+1)+(32+33))+((16+17)+(48+49)))")
    assert out[0].count("+") == 127


def test_gpu_scan_order_is_thread_prefix_lane_scan_then_carries() -> None:
    # 64 elements at 1 warp: 2 per thread (a sequential prefix), 32 lanes (Hillis-Steele on the
    # thread totals), then each thread's first element adds the previous lane's last one.
    names = np.array([[str(i) for i in range(64)]], dtype=object)
    (one,) = interpreter._gpu_scan([names], 1, _concat, num_warps=1)
    assert one[0][:6].tolist() == [
        "0",
        "(0+1)",
        "((0+1)+2)",
        "((0+1)+(2+3))",
        "(((0+1)+(2+3))+4)",
        "((0+1)+((2+3)+(4+5)))",
    ]
    # 4 warps, 8-byte elements: 1 per thread, 32 lanes and 2 warps hold distinct data; warp 1's
    # elements add warp 0's total (its last element) in front.
    (four,) = interpreter._gpu_scan([names], 1, _concat, num_warps=4)
    warp0 = four[0][31]
    assert warp0.count("+") == 31 and "((0+1)+(2+3))" in warp0
    assert four[0][32:35].tolist() == [f"({warp0}+32)", f"({warp0}+(32+33))", f"({warp0}+(32+(33+34)))"]
    # Exact integers: every order gives the true prefix sums.
    x = np.random.default_rng(0).integers(-5, 5, size=(3, 256)).astype(np.float16)
    for num_warps in (1, 2, 4, 8):
        (got,) = interpreter._gpu_scan([x], 1, interpreter._add_16, num_warps)
        assert np.array_equal(got, np.cumsum(x.astype(np.float64), axis=1)), num_warps


def test_helion_bf16_row_sums_reduce_in_the_gpu_order(pytester: pytest.Pytester) -> None:
    """Helion v1.4.0's long_sum kernels (tests/helion_examples) on bf16 rows of 1000, checked bit
    for bit (tolerance 0) against a torch emulation of the GPU's reduction order for each pinned
    config's num_warps (16 and 32 warps: 2 and 1 elements per thread; 4 warps: 8). The former
    adjacent-pairs tree rounds at other points and fails this; agreement with a real GPU is not
    established by this test (docs/numerics.md, "Reductions: GPU vs interpreter")."""
    long_sum = Path(__file__).parent / "helion_examples" / "specs" / "long_sum.py"
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "row_sums.py").write_text(_ROW_SUMS.format(path=str(long_sum)))
    result = pytester.runpytest_subprocess(
        "--device", "cpu", "--shapes", "small", "--configs", "0", "--compile", "off", "-p", "no:xdist"
    )
    records = list(read_records(pytester.path / "reports" / "results.jsonl"))
    assert len(records) == 4, result.stdout.str()
    failed = {r.case.name: (r.category, r.message) for r in records if r.category is not Category.PASSED}
    assert not failed, failed


_ROW_SUMS = '''
import dataclasses
import importlib.util

import helion
import torch

from checker.spec import Tolerance

_spec = importlib.util.spec_from_file_location("helion_long_sum_example", r"{path}")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)


def gpu_order_row_sums(num_warps, width):
    """Row sums of a bf16 [1, width] tile as Triton's tt.reduce lowering orders them: a thread
    holds spt = min(8, width / threads) contiguous elements per repetition, element
    i = slot + spt * (thread + threads * rep) with thread = lane + 32 * warp; each thread adds its
    elements in index order, then shuffle-xor over lane bits 4..0, then over the warp bits, high
    to low; bf16 rounding at every add (torch's CPU bf16 add rounds each result)."""
    threads = 32 * num_warps
    spt = max(1, min(8, width // threads))
    reps = width // (spt * threads)

    def reference(x):
        m = x.shape[0]
        tile = torch.zeros((m, width), dtype=torch.bfloat16)
        tile[:, : x.shape[1]] = x
        held = tile.reshape(m, reps, threads, spt).permute(0, 2, 1, 3).reshape(m, threads, reps * spt)
        acc = held[:, :, 0]
        for j in range(1, reps * spt):
            acc = acc + held[:, :, j]
        index = torch.arange(threads)
        warp_bits = [5 + b for b in reversed(range(num_warps.bit_length() - 1))]
        for bit in [4, 3, 2, 1, 0, *warp_bits]:
            acc = acc + acc[:, index ^ (1 << bit)]
        return acc[:, 0]

    return reference


_EXACT = {{torch.bfloat16: Tolerance(0.0, 0.0, reason="bit for bit against the emulated GPU order")}}
_FOUR_WARPS = helion.Config(block_sizes=[1], reduction_loops=[None], num_warps=4)


def _exact(spec, name, config, width=1024):
    return dataclasses.replace(
        spec,
        name=name,
        reference=gpu_order_row_sums(config.num_warps, width),
        reference_dtype=torch.bfloat16,
        shapes=[(4, 1000)],
        small_shapes=[(4, 1000)],
        dtypes=[torch.bfloat16],
        configs={{"cfg": config}},
        tolerances=_EXACT,
    )


_by_name = {{s.name: s for s in _module.SPECS}}


def _pinned(name, width=1024):
    return _exact(_by_name[name], name, _by_name[name].configs["pinned"], width)


SPECS = [
    _pinned("ex_longsum"),
    _pinned("ex_longsum_red_loop"),
    # block_sizes=[32768, 1]: the manual loop's tile stays 32768 wide (one iteration, zeros past
    # 1000), 8 elements per thread in 8 repetitions.
    _pinned("ex_longsum_manual", 32768),
    _exact(_by_name["ex_longsum"], "ex_longsum_4warps", _FOUR_WARPS),
]
'''


# --- the interpreter against recorded GPU outputs (benchmarks/record_gpu_numerics.py) -----------

GPU_NUMERICS = Path(__file__).parent / "data" / "gpu_numerics"
RECORD_COMMAND = "python benchmarks/record_gpu_numerics.py tests/data/gpu_numerics"
NOT_RECORDED = f"no recorded GPU outputs in tests/data/gpu_numerics: run `{RECORD_COMMAND}` on a CUDA GPU"


def _recorded_cases() -> list[Any]:
    index = GPU_NUMERICS / "index.json"
    if index.exists():
        return list(json.loads(index.read_text())["cases"])
    return [pytest.param(None, marks=pytest.mark.skip(reason=NOT_RECORDED + " (TRITON_INTERPRET unset)"))]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same cases on the recorded inputs under the checker's interpreter."""
    if not (GPU_NUMERICS / "index.json").exists():
        pytest.skip(NOT_RECORDED)
    out = tmp_path_factory.mktemp("interp_numerics")
    subprocess.run(
        [sys.executable, "benchmarks/record_gpu_numerics.py", "--inputs", str(GPU_NUMERICS), str(out)],
        env={**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": _this_tree_first()},
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        timeout=900,
        check=True,
    )
    return out


def _this_tree_first() -> str:
    # This tree's checker, not another one installed in the environment.
    return os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])


def _bits(t: torch.Tensor) -> torch.Tensor:
    as_int = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    return t.contiguous().view(as_int[t.element_size()])


def _allowed_difference(case: str, inputs: list[torch.Tensor], gpu: torch.Tensor) -> torch.Tensor | None:
    """Per-element bound on |interpreter - GPU| where bit-exactness is not reached, else None."""
    if case.startswith("tl_cumsum_bfloat16"):
        # tl.cumsum promotes bf16 to fp32, which the interpreter scans with numpy's sequential
        # cumsum, not in the GPU's order (fp16 scans follow it: _gpu_scan). Two summation orders
        # of depth <= d differ by at most 2 d u sum|x| (prefix sums of |x|, u = 2**-24);
        # d = log2(256) + 8 covers the per-thread runs and the lane and warp steps.
        (x,) = inputs
        return 2 * (8 + 8) * 2.0**-24 * x.float().abs().cumsum(-1)
    if case.startswith("ex_int4_gemm"):
        # fp32 tensor-core accumulation order is the hardware's: the fp32 sums can differ in the
        # last bits, which may flip the final bf16 rounding by one ulp (<= 2**-7 |value|).
        return 2.0**-7 * gpu.float().abs()
    return None


@pytest.mark.parametrize("case", _recorded_cases())
def test_interpreter_reproduces_recorded_gpu_output(case: str | None, replayed: Path) -> None:
    """Bit for bit where the interpreter models the GPU's order (reductions, integer ops), within
    the stated bound elsewhere (docs/numerics.md, 'Recorded GPU outputs')."""
    recorded = torch.load(GPU_NUMERICS / f"{case}.pt")
    cpu = torch.load(replayed / f"{case}.pt")["output"]
    gpu = recorded["output"]
    assert cpu.dtype == gpu.dtype and cpu.shape == gpu.shape, (cpu.dtype, cpu.shape, gpu.dtype, gpu.shape)
    assert not cpu.isnan().any().item() or gpu.isnan().any().item(), cpu
    bound = _allowed_difference(str(case), recorded["inputs"], gpu)
    if bound is None:
        differ = (_bits(cpu) != _bits(gpu)).nonzero().flatten().tolist()
        first = differ[:4]
        got, want = cpu.flatten()[first], gpu.flatten()[first]
        assert not differ, f"{len(differ)} of {gpu.numel()} differ; first: cpu {got}, gpu {want}"
    else:
        err = (cpu.double() - gpu.double()).abs()
        assert bool((err <= bound.double()).all()), f"max err {err.max().item()} (bound {bound.max().item()})"


def test_replay_runs_every_recorded_case(replayed: Path) -> None:
    recorded = json.loads((GPU_NUMERICS / "index.json").read_text())["cases"]
    assert json.loads((replayed / "index.json").read_text())["cases"] == recorded


# --- loads outside the launch's tensors (docs/numerics.md#loads-outside-the-launchs-tensors) ----


def _interpret(script: str, *flags: str) -> dict[str, float]:
    """Run tests/interp_kernels/``script`` under the interpreter (a fresh process: the checker's
    patches are per process) and return the JSON its last line prints."""
    proc = subprocess.run(
        [sys.executable, str(KERNELS / script), *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1"},
        cwd=Path(__file__).parent.parent,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_int4_gemm_reads_zero_past_the_end_of_a() -> None:
    """Helion's int4 GEMM reads past A's last row (issue 28: 7 of 35 NaN on CPU, right on the
    H100). With NaN bytes after A's storage the interpreter reads 0 there and the GEMM is right
    to a bf16 rounding; without the patch the last row (7 outputs) is NaN."""
    patched = _interpret("int4_gemm_oob.py")
    assert patched["nan"] == 0 and patched["max_abs_err"] <= 2.0**-7 * 64, patched
    unpatched = _interpret("int4_gemm_oob.py", "--no-oob-patch")
    assert unpatched["nan"] == N_INT4_LAST_ROW, unpatched


#: Outputs in the last row of the 5 x 34 x 7 int4 GEMM: those that read past A's end.
N_INT4_LAST_ROW = 7


def test_stores_outside_every_tensor_are_dropped() -> None:
    """Unmasked stores and atomics past a tensor's storage are dropped (they corrupted the host
    heap: Helion's jagged_hstu_attn example, worker-died SIGABRT on CPU, passed on the H100);
    the in-bounds part is stored as before. Without the patch the bytes after both windows
    change."""
    assert _interpret("oob_store.py") == {"changed_bytes_after": 0, "in_bounds_right": True}
    unpatched = _interpret("oob_store.py", "--unpatched")
    assert unpatched["changed_bytes_after"] > 0 and unpatched["in_bounds_right"], unpatched


def test_a_store_racing_with_itself_is_a_store_race() -> None:
    """Lanes of one store writing different values to one address raise StoreRace, which
    diagnostics classifies ``store-race`` through Triton's InterpreterError wrapper; the same
    value from several lanes (a broadcast) is stored without complaint."""
    from checker import diagnostics
    from checker.categories import Category

    found = _interpret("store_race.py")
    assert found["same_value_ok"] is True
    race = found["race"]
    assert race.startswith("InterpreterError: StoreRace(") and "from 7 lanes" in race, race
    assert diagnostics.classify(RuntimeError(race)).category is Category.STORE_RACE


def test_tensor_descriptor_loads_run_under_the_patches() -> None:
    """The out-of-bounds load patch passes the builder's keyword options through (it once raised
    TypeError for ``cache_modifier`` on every tensor-descriptor load, blamed on Helion's
    fp8_matmul example as a runtime-error)."""
    assert _interpret("load_options.py")["max_abs_err"] == 0.0


def test_fp8_conversions_round_and_saturate_as_the_gpu() -> None:
    """Triton 3.6's interpreter rounds to fp8 without carrying into the exponent (1.9398 -> 1.0;
    Helion's fp8_attention example failed every small case on CPU); patched, 65536 conversions
    to e4m3fn and e5m2 give the GPU's bits (nearest even, saturated)."""
    assert _interpret("fp8_convert.py") == {"e4m3": 0, "e5m2": 0}
    unpatched = _interpret("fp8_convert.py", "--unpatched")
    assert unpatched["e4m3"] > 1000 and unpatched["e5m2"] > 1000, unpatched


def test_grid_barriers_are_interpreter_unsupported() -> None:
    """hl.barrier() waits for every program of the launch; the interpreter runs them one by one,
    so Helion's split_k_barrier example hung until --run-timeout (300 s a case) and was recorded
    as the kernel's run-timeout. The code Helion generates for it (its golden) is refused."""
    golden = (
        Path(__file__).parent
        / "helion_examples/corpus/golden/cpu-sm_90/ex_split_k_barrier/16x4096x16-fp32-default.triton"
    )
    reason = interpreter.unsupported_reason(golden.read_text(encoding="utf-8"), {torch.float32})
    assert reason is not None and "barrier" in reason
    assert interpreter.unsupported_reason("def k(x):\n    tl.debug_barrier()\n", {torch.float32}) is None
