"""Compile throughput: a naive in-process loop vs supervised compile workers, side by side.

Both methods compile the same sampled configs of one kernel (over one or more shapes and dtypes)
for a GPU target, each on its own cold Triton cache (a fresh TRITON_CACHE_DIR). The naive loop is
what a hand-written sweep does: ``triton.compile`` in one process, one config after the other, no
timeout, no isolation, Triton's pipeline untouched. The pool is the checker's: supervised workers
(one per core by default), the per-case timeout, and the shared-memory check before LLVM
lowering. Code generation is done once, before either is timed, and is the same for both.

Prints configs/s of each and their ratio, and two lower bounds for the pool's wall time:
  floor          sum of per-config compile times in the pool (each capped at the timeout) / workers
  critical path  the longest single capped compile (no pool can beat its slowest case)

    python benchmarks/compile_throughput.py --kernel rms_norm --shape 2048x4096 --dtype fp32 \\
        --configs 24 --workers 16 --timeout 60

Workers are started and warmed up (imports done) before the pool is timed, as in a long run where
startup is paid once; the startup seconds are printed, and the ratio with startup included too.

The naive loop runs in a child process (``--naive-child``) only so that ``--naive-budget`` can stop
it: a sample with a config that compiles for ten minutes would otherwise outlast any time limit.
When the budget ends it, its wall time is the budget and the ratio a lower bound (printed ``>=``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker import codegen, targets
from checker.compile import TensorArg, compile_for_target, describe_args
from checker.loader import specs_in
from checker.pool import CompileJob, CompileWorker
from checker.spec import DTYPE_NAMES, DTYPES_BY_NAME
from checker.sweep import derived_seed, sample_configs


@dataclass(frozen=True)
class Case:
    """One config of one shape and dtype: generated code and its described launch arguments."""

    label: str  # e.g. "2048x4096-fp32-cfg3"
    code: str
    entry: str
    args: tuple[Any, ...]


# A tiny kernel each side compiles before its clock starts: the first compile in a process pays
# one-time costs (backend and LLVM initialisation, the first ptxas run; about 0.8 s on the 2-core
# machine) that the naive loop would pay once and the pool once per worker.
WARMUP_CODE = """
import triton
import triton.language as tl


@triton.jit
def _kcheck_warmup(x, n, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(x + i, tl.load(x + i, mask=i < n) * 2.0, mask=i < n)


def kcheck_warmup(x, *, _launcher):
    _launcher(_kcheck_warmup, (1,), x, x.numel(), 128, num_warps=4, num_stages=1)
"""


def _warmup_job(target: targets.Target) -> CompileJob:
    import torch

    return CompileJob(WARMUP_CODE, "kcheck_warmup", (TensorArg((100,), (1,), torch.float32),), target)


def _fresh_cache() -> None:
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="kcheck-bench-cache-")


def build_cases(kernels: str, shapes: str, dtypes: str, configs: int, seed: int) -> list[Case]:
    """Sample ``configs`` configs per kernel x shape x dtype from Helion's config space, generate code.

    ``kernels``: comma-separated spec names, or ``all`` (every bundled spec). ``shapes``/``dtypes``:
    comma-separated (``2048x4096``, ``fp32``), or ``spec``: each spec's own full shapes / dtypes.
    Sampling is the sweep's (``cfgK`` of seed ``seed`` is the same config as in ``kcheck run``).

    Raises:
        ValueError: a kernel name no bundled spec has.
    """
    import torch

    specs = {s.name: s for s in specs_in([Path("kernels")])}
    names = list(specs) if kernels == "all" else kernels.split(",")
    unknown = [k for k in names if k not in specs]
    if unknown:
        raise ValueError(f"unknown kernel(s) {unknown}; bundled: {sorted(specs)}")
    cases = []
    for name in names:
        spec = specs[name]
        shape_list = (
            [tuple(int(d) for d in t.split("x")) for t in shapes.split(",")]
            if shapes != "spec"
            else spec.shapes
        )
        dtype_list = dtypes.split(",") if dtypes != "spec" else [DTYPE_NAMES[d] for d in spec.dtypes]
        for shape in shape_list:
            shape_text = "x".join(map(str, shape))
            for dtype_name in dtype_list:
                inputs = spec.make_inputs(shape, DTYPES_BY_NAME[dtype_name], torch.Generator().manual_seed(0))
                bound = spec.kernel.bind(inputs)
                sampled = sample_configs(
                    bound.config_spec, configs, derived_seed(seed, spec.name, shape, dtype_name)
                )
                args = describe_args(inputs)
                for i, config in enumerate(sampled):
                    if isinstance(config, BaseException):
                        continue  # invalid-config: nothing to compile
                    label = f"{name}[{shape_text}-{dtype_name}-cfg{i}]"
                    cases.append(Case(label, codegen.generate(bound, config), spec.kernel.name, args))
    return cases


def naive_child(job_file: str) -> int:
    """The naive loop itself, in this process: compile each case in turn, print its seconds.

    Prints ``ready`` once imports are done (the parent's clock starts there: the loop's own
    process has paid them already in a hand-written sweep), then one line per case and the loop's
    wall time.
    """
    with open(job_file, "rb") as f:
        cases, target_name = pickle.load(f)
    target = targets.get_target(target_name)
    targets.use_target_on_cpu(target)
    _fresh_cache()
    warm = _warmup_job(target)
    compile_for_target(warm.code, warm.entry, warm.args, target, early_checks=False)
    print("ready", flush=True)
    started = time.perf_counter()
    for case in cases:
        t0 = time.perf_counter()
        try:
            compile_for_target(case.code, case.entry, case.args, target, early_checks=False)
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__
        print(f"naive {case.label} {time.perf_counter() - t0:.3f} {outcome}", flush=True)
    print(f"wall {time.perf_counter() - started:.3f}", flush=True)
    return 0


def naive(cases: list[Case], target: targets.Target, budget: float | None) -> tuple[float, list[str], bool]:
    """Run the naive loop in a child; returns (wall s, outcomes of finished cases, finished?).

    The wall time starts when the child has imported everything; a loop stopped by ``budget``
    (seconds) reports the budget as its wall time.
    """
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
        pickle.dump((cases, target.name), f)
    cmd = [sys.executable, __file__, "--naive-child", f.name]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"naive loop child failed to start (exit {proc.wait()})")
    ready = time.perf_counter()
    outcomes: list[str] = []
    reported: list[float] = []

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("naive "):
                _, label, seconds, outcome = line.split()
                outcomes.append(outcome)
                print(f"naive {label}: {float(seconds):.1f} s {outcome}", file=sys.stderr, flush=True)
            elif line.startswith("wall "):
                reported.append(float(line.split()[1]))

    with ThreadPoolExecutor(1) as ex:
        done = ex.submit(reader)
        try:
            proc.wait(timeout=budget)
            finished = proc.returncode == 0
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            finished = False
        wall = time.perf_counter() - ready
        done.result()
    os.unlink(f.name)
    if finished and reported:
        return reported[0], outcomes, True
    return (wall if budget is None else min(wall, budget)), outcomes, finished


def pooled(
    cases: list[Case], target: targets.Target, workers: int, timeout: float
) -> tuple[float, float, list[str], list[float]]:
    """Compile ``cases`` on ``workers`` supervised workers; returns (wall s, startup s, outcomes,
    per-case compile s capped at ``timeout``)."""
    _fresh_cache()  # inherited by the workers started below
    t0 = time.perf_counter()
    pool = [CompileWorker() for _ in range(workers)]
    with ThreadPoolExecutor(workers) as ex:
        # Imports torch/triton/helion and compiles the warm-up kernel in every worker.
        warmed = list(ex.map(lambda w: w.run(_warmup_job(target), timeout), pool))
    if any(out.kind != "ok" for out in warmed):
        raise RuntimeError(f"warm-up compile failed: {[out.kind for out in warmed]}")
    startup = time.perf_counter() - t0
    free = list(pool)

    def one(case: Case) -> tuple[str, float]:
        worker = free.pop()
        try:
            out = worker.run(CompileJob(case.code, case.entry, case.args, target), timeout)
        finally:
            free.append(worker)
        seconds = out.result.seconds if out.kind == "ok" else min(out.seconds, timeout)
        label = out.kind if out.kind != "error" else out.diagnosis.category.value
        return label, seconds

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(one, cases))
    wall = time.perf_counter() - started
    for w in pool:
        w.close()
    return wall, startup, [r[0] for r in results], [r[1] for r in results]


def _counts(outcomes: list[str]) -> str:
    return ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="rms_norm", help="comma-separated spec names, or all")
    parser.add_argument("--shape", default="2048x4096", help="comma-separated (2048x4096,4096x8192), or spec")
    parser.add_argument("--dtype", default="fp32", help="comma-separated (fp32,bf16), or spec")
    parser.add_argument("--configs", type=int, default=8, help="sampled configs per shape x dtype")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0, help="pool's per-case compile timeout, s")
    parser.add_argument("--naive-budget", type=float, default=None, help="stop the naive loop after S s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="sm_90")
    parser.add_argument("--naive-child", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.naive_child:
        return naive_child(opts.naive_child)

    target = targets.get_target(opts.target)
    targets.use_target_on_cpu(target)
    t0 = time.perf_counter()
    cases = build_cases(opts.kernel, opts.shape, opts.dtype, opts.configs, opts.seed)
    print(
        f"code generation: {len(cases)} cases in {time.perf_counter() - t0:.1f} s (not timed below)",
        flush=True,
    )
    n = len(cases)

    pool_wall, startup, pool_out, per_case = pooled(cases, target, opts.workers, opts.timeout)
    floor = sum(per_case) / opts.workers
    critical = max(per_case)
    # The pool's half first, so a run stopped during the naive loop still reports it.
    print(
        f"{opts.kernel} {opts.shape} {opts.dtype} seed {opts.seed}: {n} sampled configs, target {target.name}"
    )
    print(f"{opts.workers} workers, startup {startup:.1f} s (imports; not in the pool's wall time)")
    print(f"per-config compile s (pool): median {statistics.median(per_case):.2f}, max {critical:.2f}")
    print(f"pool outcomes: {_counts(pool_out)}; pool {pool_wall:.1f} s, floor {floor:.1f} s", flush=True)
    naive_wall, naive_out, finished = naive(cases, target, opts.naive_budget)
    ge = "" if finished else ">="
    print(
        f"naive outcomes: {_counts(naive_out)}" + ("" if finished else f" (stopped after {len(naive_out)})")
    )
    print("| method | wall s | configs/s | vs naive |\n| --- | --- | --- | --- |")
    print(f"| naive in-process loop | {ge}{naive_wall:.1f} | {len(naive_out) / naive_wall:.3f} | 1.00 |")
    print(f"| supervised pool | {pool_wall:.1f} | {n / pool_wall:.3f} | {ge}{naive_wall / pool_wall:.2f} |")
    print(
        f"| pool incl. startup | {pool_wall + startup:.1f} | {n / (pool_wall + startup):.3f} "
        f"| {ge}{naive_wall / (pool_wall + startup):.2f} |"
    )
    print(f"| parallel floor | {floor:.1f} | {n / floor:.3f} | {ge}{naive_wall / floor:.2f} |")
    print(f"| critical path | {critical:.1f} | - | - |")
    bound = max(floor, critical)
    print(f"pool / floor: {pool_wall / floor:.2f}; pool / max(floor, critical path): {pool_wall / bound:.2f}")
    # One line for docs/benchmarks.md.
    print(
        f"row: | {opts.seed} | {n} | {ge}{naive_wall:.1f} | {pool_wall:.1f} "
        f"| {ge}{naive_wall / pool_wall:.2f}x "
        f"| {startup:.1f} | {floor:.1f} | {critical:.1f} | {pool_wall / floor:.2f} | {pool_wall / bound:.2f} "
        f"| {_counts(pool_out)} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
