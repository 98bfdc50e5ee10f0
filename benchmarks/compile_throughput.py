"""Compile throughput: a naive in-process loop vs supervised compile workers, side by side.

Both methods compile the same sampled configs of one kernel/shape/dtype for a GPU target, each
on its own cold Triton cache (a fresh TRITON_CACHE_DIR). The naive loop is what a hand-written
sweep does: codegen + ``triton.compile`` in one process, one config after the other, no timeout,
no isolation, Triton's pipeline untouched. The pool is the checker's: supervised workers (one
per core by default), the per-case timeout, and the shared-memory check before LLVM lowering.

Prints configs/s of each and their ratio, and two lower bounds for the pool's wall time:
  floor          sum of per-config compile times (each capped at the timeout) / workers
  critical path  the longest single capped compile (no pool can beat its slowest case)

    python benchmarks/compile_throughput.py --kernel rms_norm --shape 2048x4096 --dtype fp32 \\
        --configs 24 --workers 16 --timeout 60

Workers are started and warmed up (imports done) before the pool is timed, as in a long run where
startup is paid once; the startup seconds are printed separately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker import codegen, targets
from checker.compile import compile_for_target, describe_args
from checker.plugin import _import_kernel_file
from checker.pool import CompileJob, CompileWorker
from checker.spec import DTYPES_BY_NAME
from checker.sweep import derived_seed, sample_configs


def _fresh_cache() -> None:
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="kcheck-bench-cache-")


def naive(codes: list[str], entry: str, args: tuple, target: targets.Target) -> tuple[float, list[str]]:
    _fresh_cache()
    outcomes = []
    started = time.perf_counter()
    for i, code in enumerate(codes):
        t0 = time.perf_counter()
        try:
            compile_for_target(code, entry, args, target, early_checks=False)
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
        # Progress, so a run stopped from outside still says where the time went.
        print(f"naive cfg{i}: {time.perf_counter() - t0:.1f} s {outcomes[-1]}", file=sys.stderr, flush=True)
    return time.perf_counter() - started, outcomes


def pooled(
    codes: list[str], entry: str, args: tuple, target: targets.Target, workers: int, timeout: float
) -> tuple[float, list[str], list[float]]:
    _fresh_cache()  # inherited by the workers started below
    pool = [CompileWorker() for _ in range(workers)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        # An empty program: imports torch/triton/helion in every worker, compiles nothing.
        list(ex.map(lambda w: w.run(CompileJob("", "x", (), target), timeout), pool))
    print(f"pool startup (imports in {workers} workers): {time.perf_counter() - t0:.1f} s", flush=True)
    free = list(pool)

    def one(code: str) -> tuple[str, float]:
        worker = free.pop()
        try:
            out = worker.run(CompileJob(code, entry, args, target), timeout)
        finally:
            free.append(worker)
        seconds = out.result.seconds if out.kind == "ok" else min(out.seconds, timeout)
        label = out.kind if out.kind != "error" else out.diagnosis.category.value
        return label, seconds

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(one, codes))
    wall = time.perf_counter() - started
    for w in pool:
        w.close()
    return wall, [r[0] for r in results], [r[1] for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="rms_norm")
    parser.add_argument("--shape", default="2048x4096")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="sm_90")
    opts = parser.parse_args()

    target = targets.get_target(opts.target)
    targets.use_target_on_cpu(target)
    spec = next(
        s
        for s in [
            getattr(m, "SPEC", None) for m in [_import_kernel_file(Path("kernels") / f"{opts.kernel}.py")]
        ]
        if s is not None
    )
    shape = tuple(int(d) for d in opts.shape.split("x"))
    dtype = DTYPES_BY_NAME[opts.dtype]
    gen = torch.Generator().manual_seed(0)
    inputs = spec.make_inputs(shape, dtype, gen)
    bound = spec.kernel.bind(inputs)
    configs = sample_configs(
        bound.config_spec, opts.configs, derived_seed(opts.seed, spec.name, shape, opts.dtype)
    )
    codes = [codegen.generate(bound, c) for c in configs if not isinstance(c, BaseException)]
    args = describe_args(inputs)

    pool_wall, pool_out, per_config = pooled(
        codes, spec.kernel.name, args, target, opts.workers, opts.timeout
    )
    naive_wall, naive_out = naive(codes, spec.kernel.name, args, target)
    floor = sum(per_config) / opts.workers
    critical = max(per_config)
    n = len(codes)
    print(
        f"{spec.name} {opts.shape} {opts.dtype}: {n} sampled configs, target {target.name}, "
        f"{opts.workers} workers"
    )
    print(
        f"per-config compile s (pool): median {statistics.median(per_config):.2f}, max {max(per_config):.2f}"
    )
    print(f"pool outcomes: {sorted((o, pool_out.count(o)) for o in set(pool_out))}")
    print(f"naive outcomes: {sorted((o, naive_out.count(o)) for o in set(naive_out))}")
    print("| method | wall s | configs/s | vs naive |\n| --- | --- | --- | --- |")
    print(f"| naive in-process loop | {naive_wall:.1f} | {n / naive_wall:.3f} | 1.00 |")
    print(f"| supervised pool | {pool_wall:.1f} | {n / pool_wall:.3f} | {naive_wall / pool_wall:.2f} |")
    print(f"| parallel floor | {floor:.1f} | {n / floor:.3f} | {naive_wall / floor:.2f} |")
    print(f"| critical path | {critical:.1f} | - | - |")
    bound = max(floor, critical)
    print(f"pool / floor: {pool_wall / floor:.2f}; pool / max(floor, critical path): {pool_wall / bound:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
