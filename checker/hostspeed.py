"""How fast this host compiles, against the GPU host: the factor a compile's CPU budget scales by.

``--compile-timeout`` is a budget in CPU seconds *of the GPU host* (an H100 host's, where the
bundled suite's compile timeouts were measured, docs/gpu-runs.md). A compile worker here may use
that budget times :func:`factor`, this host's CPU seconds for the same work divided by the GPU
host's. The work is :data:`REFERENCE`: one fixed Triton kernel (an fp16 matmul tile, below),
compiled for sm_90 all the way to a cubin (frontend, TTIR, TTGIR, LLVM, PTX, ptxas), the stages
where slow sampled configs spend their minutes. Its CPU seconds here are measured once per host
in a compile worker (:class:`SpeedJob`, the fastest of :data:`REPEATS`, because a busy machine
only ever adds time) and kept in the cache (``<cache-dir>/hostspeed/``, signed like every
entry; key: checker.cache.keys.hostspeed_key, which names the CPU model, core count, Triton and
the checker's source). With ``--no-cache`` every process measures again.

``python -m checker.hostspeed`` prints the measurement: how :data:`GPU_HOST_REFERENCE_CPU_S`
was made (docs/benchmarks.md#host-speed-factor).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.cache import keys
from checker.cache.store import EntryStore, Kind
from checker.pool import Ok, Worker

#: CPU seconds (user + system, ptxas included) of one reference compile on the GPU host:
#: ``python -m checker.hostspeed`` on two H100 hosts of the device tool (16-core Intel Xeon,
#: 2026-12-07; docs/benchmarks.md#host-speed-factor): fastest of 3 in five runs, 0.97 and 1.21 s
#: on the first (right after a 16-process compileall), 0.706, 0.710 and 0.712 s on the second,
#: idle. The idle host's median: a busy host only adds time.
GPU_HOST_REFERENCE_CPU_S = 0.71
#: Reference compiles per measurement; the fastest counts.
REPEATS = 3
#: Environment variable that sets the factor instead of measuring it (a CI job that knows its
#: runner, or a test); a positive float.
FACTOR_ENV = "KCHECK_HOST_SPEED"
#: The range a measured factor is clamped to: a measurement disturbed beyond it is not believed.
MIN_FACTOR, MAX_FACTOR = 0.25, 20.0

#: The reference kernel's source: a 128x256 fp16 tile of a matmul over K in steps of 64 (the
#: constexprs), 4 pipeline stages on 8 warps: about a second of LLVM and ptxas, long enough that
#: a process's one-time costs (the first compile's) do not dominate, and the fastest of REPEATS
#: drops them.
REFERENCE = """
import triton
import triton.language as tl


@triton.jit
def kcheck_reference(a, b, c, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    rm = pm * BM + tl.arange(0, BM)
    rn = pn * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        x = tl.load(a + rm[:, None] * K + (k + rk)[None, :], mask=(k + rk)[None, :] < K, other=0.0)
        y = tl.load(b + (k + rk)[:, None] * N + rn[None, :], mask=(k + rk)[:, None] < K, other=0.0)
        acc += tl.dot(x, y)
    tl.store(c + rm[:, None] * N + rn[None, :], acc.to(tl.float16))
"""


def _cpu_now() -> float:
    """CPU seconds of this process and its reaped children (ptxas)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def reference_cpu_seconds() -> float:
    """CPU seconds of one reference compile in this process (TRITON_INTERPRET must be off):
    sm_90, level full, Triton's cache bypassed so that every stage runs."""
    import importlib.util
    import tempfile

    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.compiler import compile as triton_compile

    with tempfile.TemporaryDirectory(prefix="kcheck-hostspeed-") as tmp:
        path = Path(tmp) / "kcheck_reference.py"
        path.write_text(REFERENCE)
        spec = importlib.util.spec_from_file_location("kcheck_reference", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fn = module.kcheck_reference
        signature = {"a": "*fp16", "b": "*fp16", "c": "*fp16", "M": "i32", "N": "i32", "K": "i32"}
        signature.update({"BM": "constexpr", "BN": "constexpr", "BK": "constexpr"})
        src = ASTSource(fn, signature, {(6,): 128, (7,): 256, (8,): 64})
        with knobs.compilation.scope(), knobs.cache.scope():
            knobs.compilation.always_compile = True
            knobs.cache.dir = tmp
            started = _cpu_now()
            triton_compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 8, "num_stages": 4})
            return _cpu_now() - started


@dataclass(frozen=True)
class SpeedJob:
    """A compile-worker job: :data:`REPEATS` reference compiles; answers Ok with the fastest's
    CPU seconds as ``result``."""

    repeats: int = REPEATS

    def handle(self) -> Ok:
        started = time.perf_counter()
        best = min(reference_cpu_seconds() for _ in range(self.repeats))
        return Ok(round(best, 4), seconds=time.perf_counter() - started)


#: Seconds the measurement may take in its worker (wall; a busy 2-core host took 10-20 s).
MEASURE_TIMEOUT_S = 600.0

_factor: float | None = None


def _clamp(value: float) -> float:
    return min(MAX_FACTOR, max(MIN_FACTOR, value))


def factor(cache_dir: str | None, worker: Worker) -> float:
    """This host's CPU seconds per GPU-host CPU second (within MIN_FACTOR..MAX_FACTOR): from
    ``$KCHECK_HOST_SPEED``, this process's earlier answer, the cache under ``cache_dir``, or a
    measurement in ``worker`` (a compile worker), stored in the cache. A measurement that fails
    (the worker died or timed out) answers 1.0, the GPU host's own budget, and is not stored.

    Raises:
        ValueError: ``$KCHECK_HOST_SPEED`` is not a positive number.
    """
    global _factor
    env = os.environ.get(FACTOR_ENV)
    if env is not None:
        value = float(env)
        if not value > 0:
            raise ValueError(f"{FACTOR_ENV}={env!r}: expected a positive number")
        return value
    if _factor is not None:
        return _factor
    store = None if cache_dir is None else EntryStore(Path(cache_dir), Kind.HOSTSPEED)
    key = keys.hostspeed_key()
    cached = None if store is None else store.get(key, _decode)
    if cached is None:
        outcome = worker.run(SpeedJob(), MEASURE_TIMEOUT_S)
        if not isinstance(outcome, Ok) or not isinstance(outcome.result, float):
            return 1.0
        cached = outcome.result
        if store is not None:
            store.put(key, {"reference_cpu_s": cached})
    _factor = _clamp(cached / GPU_HOST_REFERENCE_CPU_S)
    return _factor


def _decode(data: Any) -> float:
    value = data["reference_cpu_s"]
    if not isinstance(value, float) or not value > 0:
        raise ValueError("reference_cpu_s: expected a positive float")
    return value


def main() -> None:
    """Print the reference compile's CPU seconds here (each of REPEATS, and the fastest) and
    the factor against GPU_HOST_REFERENCE_CPU_S."""
    os.environ.pop("TRITON_INTERPRET", None)
    runs = [round(reference_cpu_seconds(), 4) for _ in range(REPEATS)]
    best = min(runs)
    print(f"reference compile CPU s: {runs} (fastest {best})")
    ratio = best / GPU_HOST_REFERENCE_CPU_S
    print(f"GPU_HOST_REFERENCE_CPU_S = {GPU_HOST_REFERENCE_CPU_S}; factor here = {ratio:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
