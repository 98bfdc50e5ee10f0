"""GPU timing: ``triton.testing.do_bench`` with input rotation, the device's measured ceilings,
and the bytes and FLOPs of a case (docs/perf.md#how-a-case-is-timed).

What is measured, and why so:

- **Median of repetitions, warm-up excluded.** ``do_bench(fn, warmup, rep, return_mode="all")``
  runs ``fn`` for ``warmup`` ms untimed, then times each of about ``rep`` ms worth of calls with
  CUDA events, clearing L2 (a 256 MB write) before each; the median of those per-call times is
  the record's time (the mean is pulled by preemption outliers).
- **Inputs rotated when the working set fits in L2.** A kernel whose inputs stay in L2 between
  calls times the cache, not the memory system. When inputs plus outputs are smaller than
  :data:`ROTATE_FACTOR` x the L2 size, ``fn`` cycles through that many copies of its inputs
  (cloned, so values are the same) so consecutive calls touch different memory.
- **Never on all-zero data**: a zero input makes multiplies and exponentials cheap and hides
  unwritten outputs; :func:`checker.numerics.all_zero_inputs` is checked before timing.
- **Ceilings, once per run**: the copy bandwidth of a large device-to-device copy and the
  throughput of a large matmul at each timed dtype (:func:`measure_ceilings`), so every row can
  say how far it is from the hardware limit (the roofline model: Williams, Waterman and
  Patterson, "Roofline", CACM 52(4), 2009).

Everything here but :func:`count_bytes`, :func:`count_flops` and :func:`rotation_count` needs a
CUDA device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: Rotate inputs while the working set is below this multiple of the L2 size.
ROTATE_FACTOR = 4
#: Most input copies kept for rotation (memory bound: small working sets only).
MAX_ROTATION = 64
#: do_bench budget per timed implementation: warm-up and timed repetitions, ms.
WARMUP_MS = 25
REP_MS = 100
#: Size of the copy that measures the bandwidth ceiling, bytes (1 GiB: far beyond any L2).
COPY_BYTES = 1 << 30
#: m = n = k of the matmul that measures the compute ceiling.
MATMUL_SIZE = 8192
#: Dtypes whose matmul ceiling is measured; fp32 with TF32 allowed, the precision Helion's dots
#: use for fp32 by default (spec ``dot_precision``). Others get no compute ceiling.
MATMUL_DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Timed:
    """One timed callable: median and per-repetition times (ms), repetitions, rotated sets."""

    median_ms: float
    samples_ms: tuple[float, ...]
    reps: int
    rotated: int


def rotation_count(working_set_bytes: int, l2_bytes: int) -> int:
    """How many input sets to rotate so that consecutive calls miss L2: 1 when the working set
    (bytes) is at least :data:`ROTATE_FACTOR` x ``l2_bytes``, else enough copies to exceed that,
    at most :data:`MAX_ROTATION`."""
    if working_set_bytes <= 0 or l2_bytes <= 0:
        return 1
    needed = math.ceil(ROTATE_FACTOR * l2_bytes / working_set_bytes)
    return max(1, min(MAX_ROTATION, needed)) if working_set_bytes < ROTATE_FACTOR * l2_bytes else 1


def _tensors(values: Any) -> list[torch.Tensor]:
    if isinstance(values, torch.Tensor):
        return [values]
    if isinstance(values, list | tuple):
        return [t for v in values for t in _tensors(v)]
    return []


def count_bytes(inputs: Sequence[Any], outputs: Any, mutated: Sequence[int] = ()) -> int:
    """Bytes a case must move at least: every tensor input read once, every output written once,
    each mutated argument (by index) written once more. The usual "effective bandwidth"
    numerator: a kernel that re-reads data moves more, so GB/s from it is a lower bound."""
    read = sum(t.numel() * t.element_size() for t in _tensors(list(inputs)))
    written = sum(t.numel() * t.element_size() for t in _tensors(outputs))
    again = sum(
        inputs[i].numel() * inputs[i].element_size()
        for i in mutated
        if i < len(inputs) and isinstance(inputs[i], torch.Tensor)
    )
    return int(read + written + again)


def count_flops(fn: Callable[..., Any], args: Sequence[Any]) -> int:
    """FLOPs of ``fn(*args)`` as ``torch.utils.flop_counter.FlopCounterMode`` counts them
    (matmuls, convolutions, attention: 2 x m x n x k for a matmul); 0 for elementwise and
    reduction code, which the counter does not count (those kernels are bandwidth-bound)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn(*args)
    return int(counter.get_total_flops())


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def bench(
    fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    rotate: int = 1,
    warmup_ms: int = WARMUP_MS,
    rep_ms: int = REP_MS,
) -> Timed:
    """Time ``fn(*args)`` with ``do_bench`` (CUDA), rotating ``rotate`` clones of ``args``.

    Raises:
        ValueError: a floating input is all zeros (timing would be meaningless).
        Whatever ``fn`` raises.
    """
    from triton.testing import do_bench

    from checker.numerics import all_zero_inputs

    zero = all_zero_inputs(list(args))
    if zero:
        raise ValueError(f"input {zero[0]} is all zeros: not timed")
    sets = [tuple(args)] + [tuple(_clone(v) for v in args) for _ in range(rotate - 1)]
    counter = [0]

    def call() -> Any:
        chosen = sets[counter[0] % len(sets)]
        counter[0] += 1
        return fn(*chosen)

    times = do_bench(call, warmup=warmup_ms, rep=rep_ms, return_mode="all")
    samples = sorted(float(t) for t in times)
    if not samples:
        raise ValueError("do_bench returned no samples")
    from checker.perf.records import thin

    return Timed(
        median_ms=_median(samples),
        samples_ms=thin(samples),
        reps=len(samples),
        rotated=len(sets),
    )


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def l2_bytes(device: int = 0) -> int:
    """L2 cache size of CUDA device ``device``, bytes (0 when torch does not say)."""
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)


def measure_ceilings(dtypes: Sequence[str]) -> dict[str, dict[str, float]]:
    """The device's measured ceilings, by dtype name: ``copy_gbps`` (GB/s: 2 x bytes of a
    :data:`COPY_BYTES` device-to-device copy per second, read and write) for every dtype, and
    ``matmul_tflops`` (TFLOP/s of an :data:`MATMUL_SIZE`-cubed ``torch.mm``) for the dtypes in
    :data:`MATMUL_DTYPES`. Each is the median of a ``do_bench``; measured once per run.
    """
    from checker.spec import DTYPES_BY_NAME

    src = torch.randint(1, 255, (COPY_BYTES,), dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)

    def copy() -> torch.Tensor:
        return dst.copy_(src)

    copy_ms = bench(copy, ()).median_ms
    copy_gbps = 2 * COPY_BYTES / (copy_ms * 1e-3) / 1e9
    out: dict[str, dict[str, float]] = {}
    n = MATMUL_SIZE
    for name in dtypes:
        ceilings = {"copy_gbps": copy_gbps}
        if name in MATMUL_DTYPES:
            dtype = DTYPES_BY_NAME[name]
            saved = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                a = torch.randn(n, n, device="cuda", dtype=torch.float32).to(dtype)
                b = torch.randn(n, n, device="cuda", dtype=torch.float32).to(dtype)
                mm_ms = bench(torch.mm, (a, b)).median_ms
                ceilings["matmul_tflops"] = 2 * n**3 / (mm_ms * 1e-3) / 1e12
                del a, b
            finally:
                torch.backends.cuda.matmul.allow_tf32 = saved
        out[name] = ceilings
    torch.cuda.empty_cache()
    return out
