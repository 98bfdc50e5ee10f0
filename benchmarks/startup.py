"""Where a run's start-up goes, step by step, on this host (issue 27: start-up to the first case).

``kcheck run`` spends its first seconds before any case runs: pytest starts, the xdist
controller imports the plugin (and with it torch), N xdist workers start and import the plugin,
torch, triton and helion (the kernel modules import helion), and collect; on a GPU host each
process that reads the GPU's properties initializes CUDA. This script times each of those steps
alone, in fresh processes, ``--repeats`` times, and prints the medians side by side:

  interpreter            ``python -c pass``
  controller imports     ``import pytest, xdist, checker.plugin`` (what the xdist controller holds)
  worker imports, 1      ``import pytest, xdist, checker.plugin, torch, triton, helion`` plus the
                         case path (checker.execute, checker.exec_worker)
  worker imports, N      the same in N processes at once (the wall time of the slowest): N is
                         ``--workers``, kcheck's -n
  CUDA query             ``torch.cuda.get_device_properties(0)`` in a process that imported torch
                         (what every process's ``pytest_configure`` does on a GPU host)
  CUDA context           the first tensor on the device after that (what a case worker's first
                         case pays)
  collection, -n 0       ``kcheck run KERNELS -n 0 -- --collect-only``: one process imports and
                         collects the suite
  collection, -n N       the same with N xdist workers: the start-up + collection of a real run
                         but for the fork servers (benchmarks/rerun.py times the real run)

    python benchmarks/startup.py                                  # the bundled suite, -n auto
    python benchmarks/startup.py --workers 16 --device cuda --repeats 3 -- --configs 1

Arguments after ``--`` go to every ``kcheck run``. The GPU steps are skipped without a GPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rerun import split_passthrough  # benchmarks/ is no package: found through the path above

ROOT = Path(__file__).resolve().parent.parent
KCHECK = (sys.executable, "-c", "import sys; from checker.cli import main; sys.exit(main())")
CONTROLLER = "import pytest, xdist, checker.plugin"
WORKER = CONTROLLER + "; import torch, triton, helion, checker.execute, checker.exec_worker"
#: Prints two numbers: seconds for the properties query, then for the first tensor on the device.
CUDA = (
    "import time, torch; t = time.perf_counter(); torch.cuda.get_device_properties(0); "
    "q = time.perf_counter(); torch.zeros(1, device='cuda'); torch.cuda.synchronize(); "
    "print(q - t, time.perf_counter() - q)"
)


def _wall(argv: Sequence[str], *, cwd: Path = ROOT) -> float:
    """Seconds ``argv`` took, start to exit.

    Raises:
        RuntimeError: the command failed (its last output lines in the message).
    """
    started = time.perf_counter()
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode not in (0, 5):  # 5: pytest collected nothing (a -k that matches no case)
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}\n{tail}")
    return took


def _concurrent(code: str, count: int) -> float:
    """Seconds from starting ``count`` interpreters running ``code`` to the last one's exit."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(count)]
    codes = [p.wait() for p in procs]
    took = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"{code!r}: exit statuses {codes}")
    return took


def _cuda_steps() -> tuple[float, float]:
    """(properties query s, first tensor s) in a fresh process, its torch import excluded."""
    out = subprocess.run([sys.executable, "-c", CUDA], capture_output=True, text=True, check=True, cwd=ROOT)
    query, context = out.stdout.split()
    return float(query), float(context)


def _collect(kernels: Sequence[str], workers: str, extra: Sequence[str], reports: Path) -> float:
    return _wall(
        [
            *KCHECK,
            "run",
            *kernels,
            "-n",
            workers,
            "--reports-dir",
            str(reports),
            *extra,
            "--",
            "--collect-only",
        ]
    )


def _has_gpu() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=False).returncode == 0


def measure(
    kernels: Sequence[str], workers: int, repeats: int, device: str, extra: Sequence[str]
) -> dict[str, list[float]]:
    """Seconds per step (see the module docstring), one value per repeat, steps in order."""
    gpu = device == "cuda" or (device == "auto" and _has_gpu())
    run_args = ["--device", "cuda" if gpu else "cpu", *extra]
    steps: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        steps.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="kcheck-startup-") as tmp:
        for _ in range(repeats):
            add("interpreter", _wall([sys.executable, "-c", "pass"]))
            add("controller imports", _wall([sys.executable, "-c", CONTROLLER]))
            add("worker imports, 1 process", _wall([sys.executable, "-c", WORKER]))
            add(f"worker imports, {workers} at once", _concurrent(WORKER, workers))
            if gpu:
                query, context = _cuda_steps()
                add("CUDA query (get_device_properties)", query)
                add("CUDA context (first tensor)", context)
            add("collection, -n 0", _collect(kernels, "0", run_args, Path(tmp) / "r0"))
            add(f"collection, -n {workers}", _collect(kernels, str(workers), run_args, Path(tmp) / "rn"))
    return steps


def main(argv: list[str] | None = None) -> int:
    """Parse options, measure, print the table; 0 on success, 2 on a usage error."""
    raw, extra = split_passthrough(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--kernels", nargs="+", default=["kernels"], help="kernel files or directories (default: kernels)"
    )
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="N: xdist workers (default: cores)"
    )
    p.add_argument("--repeats", type=int, default=3, help="medians over this many repeats (default 3)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="kcheck run --device")
    opts = p.parse_args(raw)
    if opts.repeats < 1 or opts.workers < 1:
        p.error("--repeats and --workers must be >= 1")
    steps = measure(opts.kernels, opts.workers, opts.repeats, opts.device, extra)
    where = f"{os.cpu_count()} cores, kernels {' '.join(opts.kernels)}"
    print(f"\nstart-up steps, {opts.repeats} repeat(s), {where}\n")
    print("| step | median s | min s | max s |")
    print("| --- | --- | --- | --- |")
    for name, values in steps.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
