"""Running generated Triton under the Triton interpreter (TRITON_INTERPRET=1) on CPU.

Measured gaps of the interpreter (triton 3.6, 2026-11) must not be reported as kernel bugs:

* ``libdevice`` calls (``libdevice.rsqrt``, ``libdevice.exp``...) return None, because the
  interpreter patches ``triton.language`` but not ``triton.language.extra.libdevice``. Where a
  ``tl.math`` builtin computes the same function, :data:`LIBDEVICE_SHIM` routes the call there
  (sound: the interpreter evaluates both with numpy in the same precision). Other functions raise
  :class:`InterpreterGap`.
* ``tl.dot`` on bf16 operands comes back with relative error ~1e10: the interpreter hands
  bf16's uint16 storage to numpy. :func:`_patch_bf16_dot` widens the operands to fp32 first
  (exact, and what the hardware's fp32 accumulation computes).
* Converting values to fp8 inside a kernel rounds wrongly; :func:`unsupported_reason` names
  such cases before they run so they are recorded as ``interpreter-unsupported``.
* bf16 arithmetic, comparisons, casts, constants, reductions, scans and ``atomic_add`` run numpy
  on bf16's uint16 storage (``v + v`` of 1.5 gave inf; int32 -8 -> bf16 gave NaN; fp32 -> bf16
  truncated; ``v * 3.0`` raised AttributeError for the missing ``get_bf16``).
  :func:`_patch_bf16_arith` widens bf16 to fp32 exactly, computes in fp32 and rounds every bf16
  result to nearest even; 16-bit float reductions combine in the order of Triton's GPU lowering
  (per-thread runs, then lane and warp butterflies, for the launch's ``num_warps``) and scans
  in the order of its scan lowering, rounding each partial, as a GPU does. docs/interpreter.md has the
  measurements, docs/numerics.md ("Reductions: GPU vs interpreter") the sources.
* Loads from addresses outside every tensor of the launch read the host heap (NaN in Helion's
  int4 GEMM example); :func:`_patch_out_of_bounds_loads` makes them read 0, as the GPU's
  allocation slack does; stores and atomics there, which corrupted the host heap (the case
  worker died of SIGABRT), are dropped, as the slack absorbs them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

# `kcheck repro` embeds this file verbatim in every reproducer that runs a case (its
# INTERPRETER_SOURCE, checker/triage/repro.py), so that the file applies the same interpreter
# semantics as the checker where the checker is not installed: it imports nothing else of the
# checker's, and blame only as the checker's own module.
if __name__ == "checker.interpreter":
    from checker import blame

    # The shims below stand in for the GPU's arithmetic while a kernel runs under the
    # interpreter: an error raised through them is judged like one raised in Triton's
    # interpreter itself.
    blame.passthrough_module(__file__)


class InterpreterGap(RuntimeError):
    """The interpreter cannot run this code faithfully; the message says why."""


class StoreRace(RuntimeError):
    """One store of the kernel writes different values to one address from several of its
    active lanes: a write-write race, whose surviving value a GPU does not define (the
    interpreter would always keep the last lane's). The message gives the lane count, the
    element of the storage and two of the values."""


def enable() -> None:
    """Route every ``@triton.jit`` in this process through the interpreter.

    Must run before ``triton`` is imported: Triton decides at decoration time, and its own
    ``tl.sum``/``tl.max`` are decorated when ``triton.language`` is imported.

    Raises:
        RuntimeError: triton was imported earlier without TRITON_INTERPRET=1.
    """
    if "triton.language" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError(
            "triton was imported before the Triton interpreter could be enabled; set "
            "TRITON_INTERPRET=1 in the environment, or do not import triton in conftest.py"
        )
    os.environ["TRITON_INTERPRET"] = "1"


def _tl_math(name: str) -> Any:
    def call(*args: Any) -> Any:
        import triton.language as tl

        # Looked up per call: the interpreter patches tl.math while a kernel runs.
        return getattr(tl.math, name)(*args)

    return call


# libdevice name -> tl.math builtin computing the same function.
_SAME_FUNCTION = {
    "exp": "exp",
    "exp2": "exp2",
    "log": "log",
    "log2": "log2",
    "sqrt": "sqrt",
    "sqrt_rn": "sqrt_rn",
    "rsqrt": "rsqrt",
    "sin": "sin",
    "cos": "cos",
    "erf": "erf",
    "floor": "floor",
    "ceil": "ceil",
    "abs": "abs",
    "fabs": "abs",
    "fma": "fma",
    "div_rn": "div_rn",
}


def _tanh(x: Any) -> Any:
    """tanh from the interpreter's sigmoid: tanh(x) = 2 sigmoid(2x) - 1 (triton.language has no
    tanh builtin, only libdevice's). Absolute error a few fp32 ulps of 1 near 0, where the
    subtraction cancels; relative error of the same order elsewhere."""
    import triton.language as tl

    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


class _LibdeviceShim:
    """Stands in for ``libdevice`` in generated modules run by the interpreter."""

    def __init__(self) -> None:
        self._funcs: dict[str, Any] = {name: _tl_math(target) for name, target in _SAME_FUNCTION.items()}
        self._funcs["tanh"] = _tanh

    def __getattr__(self, name: str) -> Any:
        try:
            return self._funcs[name]
        except KeyError:
            raise InterpreterGap(
                f"libdevice.{name} has no interpreter equivalent (the Triton interpreter returns "
                "None for libdevice calls)"
            ) from None


LIBDEVICE_SHIM = _LibdeviceShim()

_FP8_CAST_RE = re.compile(r"tl\.cast\([^\n]*?,\s*tl\.float8\w*\)|\.to\(tl\.float8\w*\)")
_FP8 = {torch.float8_e4m3fn, torch.float8_e5m2}
#: Helion lowers ``hl.barrier()`` to Inductor's grid barrier (a spin on a semaphore in global memory).
_GRID_BARRIER_RE = re.compile(r"\bx_grid_barrier\(")


def unsupported_reason(code: str, dtypes: set[torch.dtype]) -> str | None:
    """Why ``code`` cannot be checked under the interpreter with inputs of ``dtypes``, or None.

    ``dtypes`` are the dtypes of the kernel's tensor arguments. Measured with triton 3.6: fp8
    loads and dots are exact, but converting fp32/fp16/bf16 values *to* fp8 inside a kernel goes
    wrong when rounding carries into the next power of two (1.9398 -> 1.0; 1783 of 65536 randn
    values wrong). Helion emits casts of values that already are fp8 around fp8 dots, which are
    harmless, so a kernel is refused only when it casts to fp8 and takes no fp8 input: its fp8
    values must come from a conversion. Conversions themselves now round as the GPU does
    (:func:`_patch_fp8_rounding`, so a kernel with fp8 inputs that converts other values to fp8,
    Helion's fp8_attention, runs faithfully); the refusal stays for kernels whose every fp8 value
    is made in the kernel until that is measured against a GPU.
    """
    if _GRID_BARRIER_RE.search(code):
        return (
            "a grid-wide barrier (hl.barrier: triton_helpers.x_grid_barrier) waits until every "
            "program of the launch arrives, but the Triton interpreter runs programs one after "
            "another: the first one would wait forever"
        )
    if _FP8_CAST_RE.search(code) and not dtypes & _FP8:
        return (
            "converting to fp8 inside a kernel is not faithful in the Triton interpreter (values "
            "whose rounding carries into the next power of two come out wrong, e.g. 1.9398 -> 1.0)"
        )
    return None


_bf16_dot_patched = False


def _patch_bf16_dot() -> None:
    """Make the interpreter's ``tl.dot`` widen bf16 operands to fp32 before numpy's matmul.

    Triton 3.6 stores bf16 as uint16 and hands the raw integers to ``np.matmul`` (relative error
    ~1e10 measured). Widening is exact (bf16 is the top half of an fp32), and a GPU multiplies
    bf16 operands exactly into an fp32 accumulator, so the patched dot computes what the
    hardware does: measured relative error 3e-8 on 16x16 inputs afterwards.
    """
    global _bf16_dot_patched
    if _bf16_dot_patched:
        return
    import triton.language as tl
    from triton.runtime import interpreter as ti

    original = ti.InterpreterBuilder.create_dot

    def widen(handle: Any) -> Any:
        if handle.dtype != tl.bfloat16:
            return handle
        return ti.TensorHandle(bf16_bits_to_f32(handle.data), tl.float32)

    def create_dot(self: Any, a: Any, b: Any, d: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, widen(a), widen(b), d, *args, **kwargs)

    ti.InterpreterBuilder.create_dot = create_dot
    _bf16_dot_patched = True


def install_shims(module: Any) -> None:
    """Replace the interpreter-broken globals of a loaded generated module, and patch the
    interpreter's bf16 dot and bf16/fp16 arithmetic (once per process)."""
    _patch_bf16_dot()
    _patch_bf16_arith()
    _patch_out_of_bounds_loads()
    _patch_fp8_rounding()
    if hasattr(module, "libdevice"):
        module.libdevice = LIBDEVICE_SHIM


# --- conversions to fp8 ---------------------------------------------------------------------------
#
# Triton 3.6's interpreter converts to fp8 bit by bit (``_convert_float``) and its round-to-nearest
# carry never reaches the exponent: 1.9398 -> 1.0 and 0.4922 -> 0.25 (1783 of 65536 randn values
# wrong; Helion's fp8_attention example failed every small case on CPU for it). The GPU rounds
# to nearest even and saturates to the largest finite value (NVIDIA's ``cvt.rn.satfinite`` to
# e4m3/e5m2, what Triton lowers an RTNE fp8 downcast to on sm_89+); torch's conversion rounds to
# nearest even, so a clamp to the finite range and torch's conversion give the GPU's bits.

_fp8_patched = False


def _patch_fp8_rounding() -> None:
    """Make the interpreter's conversions of fp16/bf16/fp32/fp64 values to fp8 (e4m3fn, e5m2;
    round to nearest even, the default) round and saturate as the GPU does (once per process).
    Conversions rounding toward zero and from other fp8 types keep the interpreter's code."""
    global _fp8_patched
    if _fp8_patched:
        return
    import triton.language as tl
    import triton.runtime.interpreter as ti
    from triton._C.libtriton import ir

    original = ti._convert_float
    targets = {tl.float8e4nv: (torch.float8_e4m3fn, 448.0), tl.float8e5: (torch.float8_e5m2, 57344.0)}
    wide_of = {tl.float16: np.float16, tl.float32: np.float32, tl.float64: np.float64}

    def convert(data: Any, input_dtype: Any, output_dtype: Any, rounding_mode: Any) -> Any:
        target = targets.get(output_dtype)
        if target is None or rounding_mode == ir.ROUNDING_MODE.RTZ:
            return original(data, input_dtype, output_dtype, rounding_mode)
        array = np.ascontiguousarray(data)
        if input_dtype == tl.bfloat16:
            wide = bf16_bits_to_f32(array.view(_U16))
        elif input_dtype in wide_of:
            wide = array.view(wide_of[input_dtype])
        else:
            return original(data, input_dtype, output_dtype, rounding_mode)
        torch_dtype, largest = target
        # clamp keeps NaN: the GPU's satfinite also gives NaN for NaN.
        values = torch.from_numpy(np.ascontiguousarray(wide)).clamp(-largest, largest)
        return values.to(torch_dtype).view(torch.uint8).numpy().reshape(array.shape)

    ti._convert_float = convert
    _fp8_patched = True


# --- 16-bit float arithmetic -------------------------------------------------------------------
#
# Triton 3.6's interpreter stores bf16 as numpy uint16 and then runs numpy arithmetic on those
# integers (measured: v + v of [1.5, 2.25, 3.0, 5.0] gave [inf, -2.9e-39, ...]; a tl.sum of values
# adding to 11.75 gave 1.6e-38; int32 -8 -> bf16 gave NaN; fp32 -> bf16 truncated). The patches
# below widen bf16 to fp32 exactly, compute in fp32 and round to nearest even on every value
# stored as bf16, which is what a GPU computes (fp32 keeps 24 bits >= 2 * 8 + 2, so rounding the
# fp32 result of +, -, *, /, sqrt again to bf16 equals rounding the exact result once).

_U16 = np.dtype(np.uint16)


def _is_bf16(handle: Any) -> bool:
    """Whether an interpreter TensorHandle holds bf16 storage (uint16 bits tagged bf16)."""
    import triton.language as tl

    dtype = getattr(handle.dtype, "scalar", handle.dtype)
    return bool(dtype == tl.bfloat16 and handle.data.dtype == _U16)


def bf16_bits_to_f32(bits: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """bf16 bit patterns (uint16) -> fp32 values; exact (bf16 is the top half of an fp32)."""
    wide: npt.NDArray[np.float32] = (np.asarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)
    return wide


def _f32_to_bf16_rne(x: npt.NDArray[Any]) -> npt.NDArray[np.uint16]:
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    # Round to nearest even: add 0x7FFF plus the lowest kept bit, then drop the low half. uint64
    # so that rounding the largest finite values up to inf cannot wrap around.
    out = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    # A NaN whose payload sits in the low half would round to inf; keep it a (quiet) NaN.
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, ((bits >> 16) | 0x40).astype(np.uint16), out)


def _f64_to_f32_odd(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """fp64 -> fp32 rounded to odd: then rounding that fp32 to bf16 (8 bits, 24 >= 8 + 2) equals
    rounding the fp64 value to bf16 once, as a GPU's direct conversion does."""
    with np.errstate(over="ignore"):  # overflow to inf is handled below
        f = x.astype(np.float32)
    back = f.astype(np.float64)
    inexact = (back != x) & ~np.isnan(x)
    bits = f.view(np.uint32).copy()
    # Where RNE rounded away from zero (overflow to inf included), step one ulp back to zero.
    away = inexact & (np.abs(back) > np.abs(x))
    bits[away] -= np.uint32(1)
    bits[inexact] |= np.uint32(1)
    odd: npt.NDArray[np.float32] = bits.view(np.float32)
    return odd


def to_bf16_bits(x: npt.NDArray[Any]) -> npt.NDArray[np.uint16]:
    """Round values of any numpy dtype to bf16 (nearest even), returned as uint16 bit patterns.

    fp16 and fp32 widen exactly to fp32 and are rounded once; fp64, int and bool go through fp64
    rounded to odd, so they are rounded once as well.

    Raises:
        InterpreterGap: a 64-bit integer above 2**53 in magnitude (not exact in fp64).
    """
    x = np.asarray(x)
    if x.dtype in (np.float32, np.float16):
        return _f32_to_bf16_rne(x.astype(np.float32))
    if (
        x.dtype.kind in "iu"
        and x.dtype.itemsize == 8
        and x.size
        and np.max(np.abs(x.astype(np.float64))) > 2.0**53
    ):
        raise InterpreterGap("converting a 64-bit integer above 2**53 to bf16 is not emulated exactly")
    return _f32_to_bf16_rne(_f64_to_f32_odd(x.astype(np.float64)))


def _bf16_rtz(x: npt.NDArray[Any]) -> npt.NDArray[np.uint16]:
    """Round toward zero to bf16 (``fp_downcast_rounding="rtz"``) from fp16/fp32/fp64."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        with np.errstate(over="ignore"):  # stepped back to the largest finite value below
            f = x.astype(np.float32)
        bits = f.view(np.uint32).copy()
        # RTZ composes: step back where fp64 -> fp32 rounded away from zero.
        bits[(np.abs(f.astype(np.float64)) > np.abs(x)) & ~np.isnan(x)] -= np.uint32(1)
        x = bits.view(np.float32)
    bits32 = np.asarray(x, dtype=np.float32).view(np.uint32)
    out = (bits32 >> 16).astype(np.uint16)
    return np.where(np.isnan(np.asarray(x, dtype=np.float32)), out | np.uint16(0x40), out)


def _widen(handle: Any) -> npt.NDArray[Any]:
    """The values of a handle in a dtype numpy computes correctly: bf16 -> fp32, others as is."""
    return bf16_bits_to_f32(handle.data) if _is_bf16(handle) else handle.data


def _round_like(values: npt.NDArray[Any], storage: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Store fp32 ``values`` back in the storage dtype of ``storage`` (bf16 bits or fp16)."""
    if storage.dtype == _U16:
        return to_bf16_bits(values)
    return np.asarray(values).astype(storage.dtype)


def _widen_array(data: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return bf16_bits_to_f32(data) if data.dtype == _U16 else data.astype(np.float32)


#: Triton's defaults for a launch without ``num_warps`` and its warp width (triton 3.6,
#: triton/backends/nvidia/compiler.py ``CUDAOptions.num_warps = 4``; 32 lanes on NVIDIA GPUs).
_DEFAULT_NUM_WARPS = 4
_THREADS_PER_WARP = 32
#: ``num_warps`` of the launch the interpreter is running (set by the GridExecutor patch).
_launch_num_warps = _DEFAULT_NUM_WARPS


@dataclass(frozen=True)
class AxisLayout:
    """How a GPU spreads one reduction axis of a block over a CTA (the axis' share of Triton's
    blocked layout): element ``i`` of the axis sits in slot ``i % per_thread`` of lane
    ``(i // per_thread) % lanes`` of warp ``(i // (per_thread * lanes)) % warps``, repetition
    ``i // (per_thread * lanes * warps)``. ``lanes`` and ``warps`` count only lanes and warps
    holding distinct elements (Triton's ``getIntraWarpSizeWithUniqueData``)."""

    per_thread: int
    lanes: int
    warps: int


def reduce_axis_layout(shape: tuple[int, ...], axis: int, element_bits: int, num_warps: int) -> AxisLayout:
    """The layout Triton 3.6 gives a reduction operand of block ``shape`` along ``axis``.

    Models the operand as a coalesced load (what Helion's reductions reduce): the coalesce pass
    gives the contiguous last dimension ``min(128 // element_bits, numel // threads)`` elements
    per thread (128-bit vectors, assuming 16-byte aligned rows), and
    ``BlockedEncodingAttr::get`` hands lanes, then warps, to the dimensions from the last one
    inwards. Shapes are powers of two, as every Triton block is.

    Raises:
        ValueError: ``num_warps`` is not a power of two.
    """
    if num_warps < 1 or num_warps & (num_warps - 1):
        raise ValueError(f"num_warps must be a power of two, got {num_warps}")
    rank = len(shape)
    numel = int(np.prod(shape))
    per_thread = [1] * rank
    per_thread[-1] = max(1, min(128 // element_bits, numel // (_THREADS_PER_WARP * num_warps), shape[-1]))
    lanes, warps = [1] * rank, [1] * rank
    lanes_left, warps_left, threads_left = _THREADS_PER_WARP, num_warps, _THREADS_PER_WARP * num_warps
    for d in reversed(range(1, rank)):
        threads_here = min(max(threads_left, 1), max(1, shape[d] // per_thread[d]))
        lanes[d] = min(threads_here, lanes_left)
        warps[d] = min(max(threads_here // lanes[d], 1), warps_left)
        lanes_left //= lanes[d]
        warps_left //= warps[d]
        threads_left //= threads_here
    # The outermost dimension takes the lanes and warps left over.
    lanes[0], warps[0] = lanes_left, warps_left
    n, spt = shape[axis], per_thread[axis]
    unique_lanes = min(lanes[axis], max(1, n // spt))
    return AxisLayout(spt, unique_lanes, min(warps[axis], max(1, n // (spt * unique_lanes))))


def _butterfly(
    data: list[npt.NDArray[Any]],
    combine: Callable[[list[npt.NDArray[Any]], list[npt.NDArray[Any]]], list[npt.NDArray[Any]]],
) -> list[npt.NDArray[Any]]:
    """Reduce the last axis (a power of two) as shuffle-xor rounds do: offsets n/2, ..., 2, 1,
    each position combining its own value with its partner's; position 0's result."""
    n = data[0].shape[-1]
    offset = n // 2
    while offset:
        partner = np.arange(n) ^ offset
        data = combine(data, [d[..., partner] for d in data])
        offset //= 2
    return [d[..., 0] for d in data]


def _gpu_reduce(
    data: list[npt.NDArray[Any]],
    axis: int,
    combine: Callable[[list[npt.NDArray[Any]], list[npt.NDArray[Any]]], list[npt.NDArray[Any]]],
    num_warps: int,
) -> list[npt.NDArray[Any]]:
    """Reduce ``data`` along ``axis`` in the order of Triton 3.6's GPU lowering of ``tt.reduce``
    (lib/Conversion/TritonGPUToLLVM/ReduceOpToLLVM.cpp), every combine rounded to the dtype:

    1. ``reduceWithinThreads``: each thread folds the elements it holds left to right,
    2. ``reduceWithinWarps``: butterfly shuffles over the lanes, offsets 16, 8, ..., 1,
    3. ``accumulatePartialReductions``: the warps' partials, via shared memory, the same way.

    The layout comes from :func:`reduce_axis_layout` for the block's shape, the first operand's
    element width and ``num_warps``."""
    shape = data[0].shape
    layout = reduce_axis_layout(shape, axis, data[0].dtype.itemsize * 8, num_warps)
    spt, lanes, warps = layout.per_thread, layout.lanes, layout.warps
    n = shape[axis]
    reps = n // (spt * lanes * warps)
    outer = tuple(s for i, s in enumerate(shape) if i != axis)
    k = len(outer)

    def per_thread(d: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # (..., rep, warp, lane, slot) -> (..., warp, lane, the thread's elements in index order)
        split = np.moveaxis(d, axis, -1).reshape(*outer, reps, warps, lanes, spt)
        return np.moveaxis(split, k, k + 2).reshape(*outer, warps, lanes, reps * spt)

    held = [per_thread(d) for d in data]
    acc = [h[..., 0] for h in held]
    for j in range(1, reps * spt):
        acc = combine(acc, [h[..., j] for h in held])
    return _butterfly(_butterfly(acc, combine), combine)


def _tree_scan(
    data: list[npt.NDArray[Any]],
    axis: int,
    combine: Callable[[list[npt.NDArray[Any]], list[npt.NDArray[Any]]], list[npt.NDArray[Any]]],
) -> list[npt.NDArray[Any]]:
    """Inclusive scan along ``axis`` in log2(n) levels (Hillis-Steele): at distance d, element i
    becomes combine(element i - d, element i). A GPU scan is log-depth as well."""
    n = data[0].shape[axis]
    index = np.arange(n).reshape([-1 if i == axis else 1 for i in range(data[0].ndim)])
    d = 1
    while d < n:
        # Combining the whole rolled block keeps Triton's power-of-two shapes for combine
        # functions; the wrapped-around lanes (i < d) are discarded.
        combined = combine([np.roll(x, d, axis=axis) for x in data], data)
        data = [np.where(index >= d, c, x).astype(x.dtype) for c, x in zip(combined, data, strict=True)]
        d *= 2
    return data


def _gpu_scan(
    data: list[npt.NDArray[Any]],
    axis: int,
    combine: Callable[[list[npt.NDArray[Any]], list[npt.NDArray[Any]]], list[npt.NDArray[Any]]],
    num_warps: int,
) -> list[npt.NDArray[Any]]:
    """Inclusive scan along ``axis`` in the order of Triton's GPU lowering of ``tt.scan``
    (lib/Conversion/TritonGPUToLLVM/ScanOpToLLVM.cpp), every combine rounded to the dtype, for the
    layout :func:`reduce_axis_layout` gives (``spt`` elements per thread, ``lanes``, ``warps``):

    1. ``scanThreadContiguousElements``: each thread's sequential prefix ``p_0 .. p_{spt-1}``;
    2. ``warpScan``: Hillis-Steele over the lanes on the thread totals ``p_{spt-1}``, distances 1,
       2, 4, ...: ``S = combine(S[lane - d], S)`` for lanes >= d;
    3. more than one warp (``AddPartialReduce``): each warp's carry is its predecessors' totals
       combined left to right, ``c = ((t_0 + t_1) + ...) + t_{w-1}``; a thread's last element is
       ``combine(c, S)`` (warp 0: ``S``); one warp (``AddPartialReduceOneWarp``): it is ``S``;
    4. the thread's other elements: ``combine(E, p_j)``, ``E`` the previous lane's last element
       (lane 0: the warp's carry ``c``); the CTA's first thread keeps ``p_j``.

    Blocks with repetitions along the axis (more elements than ``spt * 32 * num_warps``) fall
    back to :func:`_tree_scan`: their chunked carries are not modeled."""
    shape = data[0].shape
    layout = reduce_axis_layout(shape, axis, data[0].dtype.itemsize * 8, num_warps)
    spt, lanes, warps = layout.per_thread, layout.lanes, layout.warps
    if shape[axis] != spt * lanes * warps:
        return _tree_scan(data, axis, combine)
    outer = [s for i, s in enumerate(shape) if i != axis]
    held = [np.moveaxis(d, axis, -1).reshape(*outer, warps, lanes, spt) for d in data]
    prefix = [[h[..., 0] for h in held]]
    for j in range(1, spt):
        prefix.append(combine(prefix[-1], [h[..., j] for h in held]))
    lane = np.arange(lanes)
    total = prefix[-1]
    d = 1
    while d < lanes:
        combined = combine([np.roll(t, d, axis=-1) for t in total], total)
        total = [np.where(lane >= d, c, t).astype(t.dtype) for c, t in zip(combined, total, strict=True)]
        d *= 2
    warp = np.arange(warps)[:, None]
    if warps > 1:
        ends = [t[..., -1] for t in total]  # each warp's total, [..., warps]
        carries = [[e[..., 0] for e in ends]]
        for w in range(1, warps - 1):
            carries.append(combine(carries[-1], [e[..., w] for e in ends]))
        # Warp 0 has no carry: its slot repeats t_0 and is never used.
        carry = [np.stack([c[i] for c in [carries[0], *carries]], axis=-1) for i in range(len(ends))]
        with_carry = combine(
            [np.broadcast_to(c[..., None], t.shape).copy() for c, t in zip(carry, total, strict=True)], total
        )
        last = [np.where(warp > 0, c, t).astype(t.dtype) for c, t in zip(with_carry, total, strict=True)]
    else:
        carry = [np.zeros_like(t[..., 0]) for t in total]
        last = total
    before = [
        np.where(lane > 0, np.roll(x, 1, axis=-1), c[..., None]).astype(x.dtype)
        for x, c in zip(last, carry, strict=True)
    ]
    first_thread = (warp == 0) & (lane == 0)
    slots = []
    for j in range(spt - 1):
        added = combine(before, prefix[j])
        slots.append(
            [np.where(first_thread, p, a).astype(p.dtype) for a, p in zip(added, prefix[j], strict=True)]
        )
    slots.append(last)
    out = []
    for i in range(len(data)):
        scanned = np.stack([slot[i] for slot in slots], axis=-1).reshape(*outer, shape[axis])
        out.append(np.moveaxis(scanned, -1, axis))
    return out


def _add_16(a: list[npt.NDArray[Any]], b: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    return [_round_like(_widen_array(a[0]) + _widen_array(b[0]), a[0])]


def _mul_16(a: list[npt.NDArray[Any]], b: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    return [_round_like(_widen_array(a[0]) * _widen_array(b[0]), a[0])]


_16BIT_STORAGE = (np.dtype(np.uint16), np.dtype(np.float16))
_arith_patched = False


def _patch_bf16_arith() -> None:
    """Make the interpreter compute bf16 (and fp16 reductions/scans) as a GPU does.

    Patched, all on ``triton.runtime.interpreter`` (triton 3.6), each falling through to the
    original for other dtypes:

    * ``InterpreterBuilder.binary_op`` / ``unary_op`` / ``ternary_op`` (clamp) / ``create_fma`` /
      ``create_erf`` / ``create_rsqrt``: bf16 operands widen to fp32, the result rounds back to
      bf16 (comparisons return int1).
    * ``cast_impl`` and ``create_fp_to_fp``: int, fp16, fp32, fp64 <-> bf16 convert by value with
      round to nearest even (or toward zero when ``fp_downcast_rounding="rtz"``); ``get_bf16``
      (missing in the interpreter) builds bf16 constants.
    * ``create_atomic_rmw``: bf16 ``atomic_add`` (numpy added the uint16 bits) adds lane by lane.
    * ``ReduceOps.sum`` / ``min_max`` / ``generic_reduce`` and ``ScanOps.cumsum`` / ``cumprod`` /
      ``generic_scan``: bf16 was summed as integers; fp16 and bf16 (numpy sums fp16 in fp32 and
      scans sequentially) now combine with every partial rounded to the 16-bit dtype, reductions
      in the GPU lowering's order (:func:`_gpu_reduce`, for the ``num_warps`` that
      ``GridExecutor.__call__``, also patched, records per launch), scans in the scan
      lowering's order (:func:`_gpu_scan`).

    Measured (triton 3.6, tests/interp_kernels/bf16_ops.py): before, bf16 ``v + v`` of
    [1.5, 2.25, 3.0, 5.0] gave [inf, -2.9e-39, -1.2e-38, -3.5e-38], ``tl.sum`` gave 1.6e-38 for
    11.75, int32 -8 -> bf16 gave NaN, fp32 1.005859375 -> bf16 gave 1.0 (RNE: 1.0078125);
    after, all equal torch's CPU bf16 results.
    """
    global _arith_patched
    if _arith_patched:
        return
    import triton.language as tl
    from triton._C.libtriton import ir
    from triton.runtime import interpreter as ti

    builder_cls = ti.InterpreterBuilder
    TensorHandle = ti.TensorHandle

    def bf16(bits: npt.NDArray[Any]) -> Any:
        return TensorHandle(bits, tl.bfloat16)

    original_binary = builder_cls.binary_op

    def binary_op(self: Any, lhs: Any, rhs: Any, op: Any) -> Any:
        if not (_is_bf16(lhs) or _is_bf16(rhs)):
            return original_binary(self, lhs, rhs, op)
        out = np.asarray(op(_widen(lhs), _widen(rhs)))
        if out.dtype == np.bool_:
            return TensorHandle(out, tl.int1)
        return bf16(to_bf16_bits(out))

    original_unary = builder_cls.unary_op

    def unary_op(self: Any, arg: Any, op: Any) -> Any:
        if not _is_bf16(arg):
            return original_unary(self, arg, op)
        return bf16(to_bf16_bits(op(_widen(arg))))

    original_ternary = builder_cls.ternary_op

    def ternary_op(self: Any, lhs: Any, rhs: Any, other: Any, op: Any) -> Any:
        # np.where only moves bits, which is right for bf16 storage as it is.
        if op is np.where or not any(_is_bf16(h) for h in (lhs, rhs, other)):
            return original_ternary(self, lhs, rhs, other, op)
        return bf16(to_bf16_bits(op(_widen(lhs), _widen(rhs), _widen(other))))

    original_fma = builder_cls.create_fma

    def create_fma(self: Any, x: Any, y: Any, z: Any) -> Any:
        if not _is_bf16(z):
            return original_fma(self, x, y, z)
        # The fp32 product of two bf16 values is exact; one fp32 rounding of the sum before the
        # bf16 rounding is harmless (24 >= 2 * 8 + 2).
        return bf16(to_bf16_bits(_widen(x) * _widen(y) + _widen(z)))

    original_erf = builder_cls.create_erf

    def create_erf(self: Any, arg: Any) -> Any:
        if not _is_bf16(arg):
            return original_erf(self, arg)
        wide = original_erf(self, TensorHandle(_widen(arg), tl.float32))
        return bf16(to_bf16_bits(wide.data))

    original_rsqrt = builder_cls.create_rsqrt

    def create_rsqrt(self: Any, arg: Any) -> Any:
        if not _is_bf16(arg):
            return original_rsqrt(self, arg)
        return bf16(to_bf16_bits(1 / np.sqrt(_widen(arg))))

    original_cast = builder_cls.cast_impl

    def cast_impl(self: Any, src: Any, dst_type: Any) -> Any:
        dst = dst_type.scalar
        if dst == tl.bfloat16 and src.dtype.scalar != tl.bfloat16:
            return bf16(to_bf16_bits(src.data))
        if _is_bf16(src) and dst != tl.bfloat16:
            # bf16 -> fp32 is exact; to fp16 numpy then rounds to nearest even, to integers it
            # truncates as the interpreter's fp32 -> int does.
            return TensorHandle(_widen(src).astype(ti._get_np_dtype(dst)), dst)
        return original_cast(self, src, dst_type)

    original_fp_to_fp = builder_cls.create_fp_to_fp

    def create_fp_to_fp(self: Any, src: Any, dst_type: Any, rounding_mode: Any) -> Any:
        src_ty, dst_ty = src.dtype.scalar, dst_type.scalar
        if src_ty.is_fp8() or dst_ty.is_fp8() or tl.bfloat16 not in (src_ty, dst_ty):
            return original_fp_to_fp(self, src, dst_type, rounding_mode)
        if dst_ty == tl.bfloat16:
            wide = src.data.astype(np.float32) if src.data.dtype == np.float16 else src.data
            if rounding_mode == ir.ROUNDING_MODE.RTZ:
                return bf16(_bf16_rtz(wide))
            return bf16(to_bf16_bits(wide))
        return TensorHandle(_widen(src).astype(ti._get_np_dtype(dst_ty)), dst_ty)

    def get_bf16(self: Any, value: float) -> Any:
        return bf16(to_bf16_bits(np.array([value], dtype=np.float64)))

    original_atomic_rmw = builder_cls.create_atomic_rmw

    def create_atomic_rmw(self: Any, rmw_op: Any, ptr: Any, val: Any, mask: Any, sem: Any, scope: Any) -> Any:
        if not _is_bf16(val) or rmw_op != ir.ATOMIC_OP.FADD:
            return original_atomic_rmw(self, rmw_op, ptr, val, mask, sem, scope)
        # Lane by lane so that lanes hitting the same address each see the previous sum (the
        # interpreter runs one program at a time, so no other program interleaves).
        shape = val.data.shape
        ptrs = np.array(np.broadcast_to(ptr.data, shape)).reshape(-1)
        vals = np.broadcast_to(val.data, shape).reshape(-1)
        active = np.broadcast_to(mask.data, shape).reshape(-1)
        old = np.zeros(ptrs.shape, dtype=np.uint16)
        one = np.ones(1, dtype=bool)
        for i in np.flatnonzero(active):
            p = ptrs[i : i + 1]
            cur = ti._interpreter.load(p, one, np.zeros(1, dtype=np.uint16), _U16)
            old[i] = cur[0]
            new = to_bf16_bits(bf16_bits_to_f32(cur) + bf16_bits_to_f32(vals[i : i + 1]))
            ti._interpreter.store(p, new, one)
        return bf16(old.reshape(shape))

    builder_cls.binary_op = binary_op
    builder_cls.unary_op = unary_op
    builder_cls.ternary_op = ternary_op
    builder_cls.create_fma = create_fma
    builder_cls.create_erf = create_erf
    builder_cls.create_rsqrt = create_rsqrt
    builder_cls.cast_impl = cast_impl
    builder_cls.create_fp_to_fp = create_fp_to_fp
    builder_cls.get_bf16 = get_bf16
    builder_cls.create_atomic_rmw = create_atomic_rmw
    _patch_reductions(ti, tl)
    _arith_patched = True


def _patch_reductions(ti: Any, tl: Any) -> None:
    """The reduction and scan half of :func:`_patch_bf16_arith`."""
    reduce_cls, scan_cls = ti.ReduceOps, ti.ScanOps
    original_launch = ti.GridExecutor.__call__

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The interpreter drops launch options; a reduction's GPU order depends on num_warps.
        global _launch_num_warps
        outer = _launch_num_warps
        _launch_num_warps = int(kwargs.get("num_warps") or _DEFAULT_NUM_WARPS)
        try:
            return original_launch(self, *args, **kwargs)
        finally:
            _launch_num_warps = outer

    ti.GridExecutor.__call__ = launch

    def is_16bit(tensor: Any) -> bool:
        return bool(tensor.handle.data.dtype in _16BIT_STORAGE and tensor.dtype.is_floating())

    def pow2_axis(self: Any, tensor: Any) -> bool:
        n = tensor.handle.data.size if self.axis is None else tensor.handle.data.shape[self.axis]
        return bool(n & (n - 1) == 0)

    def finish_reduce(self: Any, data: npt.NDArray[Any], ndim: int) -> npt.NDArray[Any]:
        if self.keep_dims:
            return data.reshape([1] * ndim) if self.axis is None else np.expand_dims(data, self.axis)
        return data

    def combine_with_fn(self: Any, inputs: tuple[Any, ...]) -> Callable[..., list[npt.NDArray[Any]]]:
        def combine(a: list[npt.NDArray[Any]], b: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
            args = [self.to_tensor(x, t.dtype) for x, t in zip(a + b, inputs + inputs, strict=True)]
            ret = self.combine_fn.fn(*args)
            ret = ret if isinstance(ret, tuple) else (ret,)
            return [
                np.broadcast_to(r.handle.data if isinstance(r, tl.core.tensor) else r, x.shape).astype(
                    x.dtype
                )
                for r, x in zip(ret, a, strict=True)
            ]

        return combine

    original_sum = reduce_cls.sum

    def reduce_sum(self: Any, input: Any) -> Any:
        if not (is_16bit(input) and pow2_axis(self, input)):
            return original_sum(self, input)
        data = input.handle.data
        flat = data.reshape(-1) if self.axis is None else data
        (out,) = _gpu_reduce([flat], 0 if self.axis is None else self.axis, _add_16, _launch_num_warps)
        return self.to_tensor(finish_reduce(self, out, data.ndim), input.dtype)

    original_min_max = reduce_cls.min_max

    def min_max(self: Any, input: Any, val_reduce_op: Any, idx_reduce_op: Any = None) -> Any:
        value = input[0] if isinstance(input, tuple) else input
        if not _is_bf16(value.handle):
            return original_min_max(self, input, val_reduce_op, idx_reduce_op)
        # tl.max/tl.min promote bf16 to fp32 first; only a direct tl.reduce with Triton's own
        # combine functions gets here. The extremes are exact, so rounding back is exact.
        wide = tl.core.tensor(
            ti.TensorHandle(_widen(value.handle), tl.float32), value.type.with_element_ty(tl.float32)
        )
        ret = original_min_max(self, wide, val_reduce_op, idx_reduce_op)
        parts = ret if isinstance(ret, tuple) else (ret,)
        fixed = tuple(
            tl.core.tensor(
                ti.TensorHandle(to_bf16_bits(p.handle.data), tl.bfloat16), p.type.with_element_ty(tl.bfloat16)
            )
            if p.dtype == tl.float32
            else p
            for p in parts
        )
        return fixed if isinstance(ret, tuple) else fixed[0]

    original_generic_reduce = reduce_cls.generic_reduce

    def generic_reduce(self: Any, input: tuple[Any, ...]) -> Any:
        if not (any(is_16bit(t) for t in input) and pow2_axis(self, input[0])):
            return original_generic_reduce(self, input)
        ndim = input[0].handle.data.ndim
        data = [t.handle.data.reshape(-1) if self.axis is None else t.handle.data for t in input]
        axis = 0 if self.axis is None else self.axis
        outs = _gpu_reduce(data, axis, combine_with_fn(self, input), _launch_num_warps)
        return [
            self.to_tensor(finish_reduce(self, o, ndim), t.dtype) for o, t in zip(outs, input, strict=True)
        ]

    def scan_16(original: Any, combine: Any) -> Any:
        def scan(self: Any, input: Any) -> Any:
            if not (is_16bit(input) and pow2_axis(self, input)):
                return original(self, input)
            (out,) = _gpu_scan([input.handle.data], self.axis, combine, _launch_num_warps)
            return [self.to_tensor(out, input.dtype)]

        return scan

    original_generic_scan = scan_cls.generic_scan

    def generic_scan(self: Any, input: Any) -> Any:
        if not (any(is_16bit(t) for t in input) and pow2_axis(self, input[0])):
            return original_generic_scan(self, input)
        combine = combine_with_fn(self, tuple(input))
        outs = _gpu_scan([t.handle.data for t in input], self.axis, combine, _launch_num_warps)
        return [self.to_tensor(o, t.dtype) for o, t in zip(outs, input, strict=True)]

    reduce_cls.sum = reduce_sum
    reduce_cls.min_max = min_max
    reduce_cls.generic_reduce = generic_reduce
    scan_cls.cumsum = scan_16(scan_cls.cumsum, _add_16)
    scan_cls.cumprod = scan_16(scan_cls.cumprod, _mul_16)
    scan_cls.generic_scan = generic_scan


# --- loads outside every tensor of the launch ---------------------------------------------------

_oob_patched = False
#: [start, end) byte ranges of the storages behind the running launch's tensor arguments; None
#: outside a launch (loads are then not checked).
_launch_ranges: npt.NDArray[np.uint64] | None = None


def _storage_ranges(args: Any) -> list[tuple[int, int]]:
    """[start, end) byte ranges of the storages of every tensor in ``args`` (nested in tuples,
    lists and tensor descriptors, as the interpreter's ``_init_args_hst`` walks them)."""
    ranges: list[tuple[int, int]] = []
    stack = list(args)
    while stack:
        arg = stack.pop()
        if isinstance(arg, (tuple, list)):
            stack.extend(arg)
        elif hasattr(arg, "base") and hasattr(arg, "block_shape"):  # TensorDescriptor
            stack.append(arg.base)
        elif isinstance(arg, torch.Tensor):
            storage = arg.untyped_storage()
            ranges.append((storage.data_ptr(), storage.data_ptr() + storage.nbytes()))
    return ranges


def in_launch_storage(
    ptrs: npt.NDArray[Any], itemsize: int, ranges: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    """Which of the byte addresses ``ptrs`` (any shape, uint64) hold a whole element of
    ``itemsize`` bytes inside one of ``ranges`` (shape [R, 2], [start, end) byte ranges)."""
    p = ptrs.astype(np.uint64)[..., None]
    return np.any((p >= ranges[:, 0]) & (p + np.uint64(itemsize) <= ranges[:, 1]), axis=-1)  # type: ignore[no-any-return]


def _check_store_race(ptrs: Any, value: Any, mask: Any, ranges: npt.NDArray[np.uint64]) -> None:
    """Raise :class:`StoreRace` when two active lanes of one store write different bits to one
    address. Several lanes writing the same value (a broadcast, a replicated layout) is no race.

    Seen in Helion v1.4.0 ``examples/moe_matmul_ogs.py``: lanes past an expert's token count
    are redirected to the expert's first token and store the value loaded before the matmul, so
    that token's row is the matmul's or the stale one depending on which lane wins. On the H100
    15 of 24 small cases failed (seed 83); the interpreter, whose last lane always wins, failed
    21, among them 6 the GPU passed by luck (docs/cpu-gpu-agreement.md)."""
    active = np.broadcast_to(mask.data, ptrs.data.shape)
    if int(active.sum()) < 2:
        return
    addresses = ptrs.data[active].astype(np.uint64)
    values = np.broadcast_to(value.data, ptrs.data.shape)[active]
    order = np.argsort(addresses, kind="stable")
    addresses, values = addresses[order], values[order]
    same = addresses[1:] == addresses[:-1]
    if not same.any():
        return
    bits = values.view(f"u{values.dtype.itemsize}") if values.dtype.kind == "f" else values
    differ = same & (bits[1:] != bits[:-1])
    if not differ.any():
        return
    i = int(np.argmax(differ))
    address = np.uint64(addresses[i])
    owner = int(np.argmax((ranges[:, 0] <= address) & (address < ranges[:, 1])))
    start, end = int(ranges[owner, 0]), int(ranges[owner, 1])
    itemsize = _itemsize(ptrs)
    lanes = int(np.count_nonzero(addresses == address))
    raise StoreRace(
        f"one store writes different values to one address from {lanes} lanes (element "
        f"{(int(address) - start) // itemsize} of a launch tensor's {(end - start) // itemsize}-element "
        f"storage; e.g. {values[i].item()!r} and {values[i + 1].item()!r}): a write-write race, "
        "whose surviving value a GPU does not define"
    )


def _outside(ptrs: Any, mask: Any, ranges: npt.NDArray[np.uint64]) -> tuple[Any, Any]:
    """The active lanes of ``mask`` (broadcast to ``ptrs``' shape) and those of them whose
    address is outside every storage of ``ranges``."""
    active = np.broadcast_to(mask.data, ptrs.data.shape)
    return active, active & ~in_launch_storage(ptrs.data, _itemsize(ptrs), ranges)


def _itemsize(ptrs: Any) -> int:
    """Bytes per element of the pointer tensor ``ptrs``'s pointee."""
    from triton.runtime import interpreter as ti

    return int(ti._get_np_dtype(ptrs.get_element_ty()).itemsize)


def _patch_out_of_bounds_loads() -> None:
    """Loads from addresses outside every tensor argument of the launch read 0, as on a GPU.

    Triton's interpreter dereferences every unmasked address on the host heap, so a load past the
    end of a tensor reads whatever the CPU allocator put there. A GPU run of the same kernel
    reads the slack of the same allocation (PyTorch's CUDA caching allocator rounds blocks up to
    512 bytes) or a neighbouring block of its segment. Measured (Helion v1.4.0
    ``examples/int4_gemm.py``, M x K x N = 5 x 34 x 7, default config): the generated A load masks
    the rows only, so the last row's second K block reads 30 bf16 past A's end and multiplies
    them by B rows masked to 0; on CPU the bytes after A held NaN and 7 of 35 outputs were NaN,
    on the H100 they were finite and every output right. Reading 0 there (what fresh device
    memory holds, and the most common content of the slack) makes the CPU run agree with the
    GPU's; loads that stay inside an argument's storage (here: rows 0-3 reading into the next
    row) read its real bytes, as on the GPU.

    Stores and atomics to addresses outside every argument are dropped: the interpreter wrote
    them into the host heap, where they corrupted the allocator's bookkeeping and the case
    worker died of SIGABRT (Helion v1.4.0 ``examples/jagged_hstu_attn.py``, 2x16x2x16, sampled
    configs at seed 83: worker-died on CPU, passed on the H100, whose allocation slack took
    them). Stores inside another argument's storage still land there, as on the GPU.

    Patched on ``triton.runtime.interpreter`` (triton 3.6): ``GridExecutor._init_args_hst``
    records the storages of the launch's host arguments; ``InterpreterBuilder.create_masked_load``
    (which ``create_load`` calls) masks addresses outside them and returns 0 for them.
    """
    global _oob_patched
    if _oob_patched:
        return
    from triton.runtime import interpreter as ti

    original_init_args = ti.GridExecutor._init_args_hst
    original_call = ti.GridExecutor.__call__
    original_load = ti.InterpreterBuilder.create_masked_load

    def init_args(self: Any, args_dev: Any, kwargs: Any) -> Any:
        global _launch_ranges
        args_hst, kwargs_hst = original_init_args(self, args_dev, kwargs)
        ranges = _storage_ranges([*args_hst, *kwargs_hst.values()])
        _launch_ranges = np.array(ranges, dtype=np.uint64).reshape(-1, 2)
        return args_hst, kwargs_hst

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _launch_ranges
        outer = _launch_ranges
        try:
            return original_call(self, *args, **kwargs)
        finally:
            _launch_ranges = outer

    def create_masked_load(self: Any, ptrs: Any, mask: Any, other: Any, *rest: Any, **options: Any) -> Any:
        # options: cache_modifier, eviction_policy, is_volatile (the builder's keywords).
        ranges = _launch_ranges
        if ranges is None:
            return original_load(self, ptrs, mask, other, *rest, **options)
        active, outside = _outside(ptrs, mask, ranges)
        if not outside.any():
            return original_load(self, ptrs, mask, other, *rest, **options)
        inside = ti.TensorHandle(active & ~outside, mask.dtype)
        loaded = original_load(self, ptrs, inside, other, *rest, **options)
        data = loaded.data.copy()
        data[outside] = 0
        return ti.TensorHandle(data, loaded.dtype)

    original_store = ti.InterpreterBuilder.create_masked_store
    original_rmw = ti.InterpreterBuilder.create_atomic_rmw

    def inside_mask(ptrs: Any, mask: Any) -> Any:
        """``mask`` with the lanes whose address is outside every argument's storage cleared,
        or ``mask`` itself when none is (or outside a launch)."""
        ranges = _launch_ranges
        if ranges is None:
            return mask
        active, outside = _outside(ptrs, mask, ranges)
        return ti.TensorHandle(active & ~outside, mask.dtype) if outside.any() else mask

    def create_masked_store(self: Any, ptrs: Any, value: Any, mask: Any, *rest: Any) -> Any:
        mask = inside_mask(ptrs, mask)
        if _launch_ranges is not None:
            _check_store_race(ptrs, value, mask, _launch_ranges)
        return original_store(self, ptrs, value, mask, *rest)

    def create_atomic_rmw(self: Any, op: Any, ptr: Any, val: Any, mask: Any, *rest: Any) -> Any:
        return original_rmw(self, op, ptr, val, inside_mask(ptr, mask), *rest)

    ti.GridExecutor._init_args_hst = init_args
    ti.GridExecutor.__call__ = launch
    ti.InterpreterBuilder.create_masked_load = create_masked_load
    ti.InterpreterBuilder.create_masked_store = create_masked_store
    ti.InterpreterBuilder.create_atomic_rmw = create_atomic_rmw
    _oob_patched = True
