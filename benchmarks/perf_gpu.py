"""Issue 16 on one GPU: speedup table and plots, unchanged reruns flag nothing, a slowed kernel is
flagged (docs/perf.md#the-gpu-check).

    python benchmarks/perf_gpu.py OUT                 # all three steps, about 7 min on one H200
    python benchmarks/perf_gpu.py OUT --steps a       # one step at a time (each reads OUT)
    python benchmarks/perf_gpu.py OUT --steps bc

Steps (each one's failure is reported and the others still run; logs in OUT/logs/):

  a  ``kcheck run softmax rms_norm matmul --shapes full --configs 2 --benchmark`` (goldens and
     fp32 deselected to keep it short: ``--select``) into OUT/base, then ``kcheck plot`` ->
     OUT/base/speedup.md, speedup.png, roofline.png (the PNGs need matplotlib)
  b  ``kcheck bench OUT/base/results.jsonl --no-compile`` three times (the same passing configs
     timed again, unchanged) into OUT/rerun1..3, each compared with OUT/base: must flag nothing
  c  a copy of kernels/matmul.py in OUT/slow/suite whose named config ``big_tiles`` is forced to
     tiny blocks (16x16x16 instead of 64x128x32), ``kcheck run --configs 0 --benchmark`` on it,
     compared with OUT/base: must flag big_tiles and nothing else

The repository's kernels are never edited. Prints a compact summary; exit status 0 when every
step ran and met its expectation, else 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ("kernels/softmax.py", "kernels/rms_norm.py", "kernels/matmul.py")
SELECT = "not golden and not fp32"
SLOW_FROM, SLOW_TO = "block_sizes=[64, 128, 32]", "block_sizes=[16, 16, 16]"
SLOW_CONFIG = "big_tiles"


def kcheck(out: Path, log: str, args: list[str], timeout: float) -> tuple[int, str, float]:
    """Run ``python -m checker.cli ARGS``; (exit status, combined output, seconds). The output
    also goes to OUT/logs/LOG.log."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    started = time.monotonic()
    # Its own session, killed as a group on timeout: kcheck run's xdist workers and the
    # benchmark process must not outlive the step and hold the GPU.
    proc = subprocess.Popen(
        [sys.executable, "-m", "checker.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        text, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
        rc, text = 124, f"{text}\n[timed out after {timeout:g} s]"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "logs" / f"{log}.log").write_text(text, encoding="utf-8")
    return rc, text, time.monotonic() - started


def tail(text: str, n: int = 4) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join("      " + line[:160] for line in lines[-n:])


def counts_line(text: str) -> str:
    m = re.search(r"kcheck compare: (.*)", text)
    return m.group(1) if m else "no comparison"


def flagged(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("regression ")]


def step_a(out: Path, args: argparse.Namespace) -> bool:
    base = out / "base"
    run = ["run", *KERNELS, "--shapes", "full", "--configs", str(args.configs), "-n", str(args.workers)]
    # The benchmark's own bound, inside the step's: what it timed by then is kept.
    run += [
        "-k",
        args.select,
        f"--reports-dir={base}",
        "--benchmark",
        f"--benchmark-timeout={args.timeout_a - 120:g}",
    ]
    rc, text, secs = kcheck(out, "a-run", run, args.timeout_a)
    timings = (
        sum(1 for line in (base / "results.jsonl").open() if '"kind": "timing"' in line)
        if (base / "results.jsonl").is_file()
        else 0
    )
    print(f"a  run+benchmark: rc {rc} in {secs:.0f} s, {timings} timing records")
    if not timings:
        print(tail(text))
        return False
    rc, text, _ = kcheck(out, "a-plot", ["plot", str(base / "results.jsonl"), "-o", str(base)], 300)
    pngs = sorted(p.name for p in base.glob("*.png"))
    print(f"   plot: rc {rc}, {base / 'speedup.md'}, {', '.join(pngs) or 'no PNG (matplotlib missing?)'}")
    table = (base / "speedup.md").read_text().splitlines() if (base / "speedup.md").is_file() else []
    for line in table[: args.table_lines]:
        print("   " + line)
    if len(table) > args.table_lines:
        print(f"   ... {len(table) - args.table_lines} more lines in {base / 'speedup.md'}")
    return bool(pngs)


def step_b(out: Path, args: argparse.Namespace) -> bool:
    baseline = out / "base" / "results.jsonl"
    if not baseline.is_file():
        print("b  skipped: no OUT/base/results.jsonl (run step a first)")
        return False
    ok = True
    for i in range(1, args.repeats + 1):
        timings = out / f"rerun{i}" / "timings.jsonl"
        rc, text, secs = kcheck(
            out,
            f"b-bench{i}",
            [
                "bench",
                str(baseline),
                "--no-compile",
                "-o",
                str(timings),
                "--timeout",
                f"{args.timeout_b - 10:g}",
            ],
            args.timeout_b,
        )
        if rc != 0 or not timings.is_file():
            print(f"b{i} bench: rc {rc} in {secs:.0f} s")
            print(tail(text))
            ok = False
            continue
        rc, text, _ = kcheck(
            out, f"b-compare{i}", ["compare", str(timings), "--baseline", str(baseline)], 120
        )
        slow = flagged(text)
        print(f"b{i} bench {secs:.0f} s; compare: {counts_line(text)}")
        for name in slow[:8]:
            print(f"      flagged: {name}")
        ok = ok and rc == 0 and not slow and counts_line(text) != "no comparison"
    return ok


def step_c(out: Path, args: argparse.Namespace) -> bool:
    baseline = out / "base" / "results.jsonl"
    if not baseline.is_file():
        print("c  skipped: no OUT/base/results.jsonl (run step a first)")
        return False
    suite = out / "slow" / "suite"
    suite.mkdir(parents=True, exist_ok=True)
    source = (ROOT / "kernels" / "matmul.py").read_text()
    if SLOW_FROM not in source:
        print(f"c  kernels/matmul.py no longer has {SLOW_FROM}: update SLOW_FROM")
        return False
    (suite / "matmul.py").write_text(source.replace(SLOW_FROM, SLOW_TO, 1))
    reports = out / "slow" / "reports"
    run = ["run", str(suite / "matmul.py"), "--shapes", "full", "--configs", "0", "-n", str(args.workers)]
    run += ["-k", args.select, f"--reports-dir={reports}", "--benchmark", "--benchmark-no-compile"]
    run += [f"--benchmark-timeout={args.timeout_c - 60:g}"]
    rc, text, secs = kcheck(out, "c-run", run, args.timeout_c)
    print(f"c  slowed matmul run+benchmark: rc {rc} in {secs:.0f} s")
    if not (reports / "results.jsonl").is_file():
        print(tail(text))
        return False
    cmp = ["compare", str(reports / "results.jsonl"), "--baseline", str(baseline), "--fail-on-regression"]
    rc, text, _ = kcheck(out, "c-compare", cmp, 120)
    slow = flagged(text)
    print(f"   compare: rc {rc}; {counts_line(text)}")
    for name in slow[:10]:
        print(f"      flagged: {name}")
    others = [n for n in slow if not n.endswith(f"-{SLOW_CONFIG}]")]
    return rc == 1 and bool(slow) and not others


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output directory (reports, tables, PNGs, logs)")
    parser.add_argument("--steps", default="abc", help="which steps: any of a, b, c (default abc)")
    parser.add_argument("--configs", type=int, default=2, help="sampled configs in step a (default 2)")
    parser.add_argument("--workers", default="16", help="xdist workers (default 16)")
    parser.add_argument("--select", default=SELECT, help=f"pytest -k of steps a and c (default {SELECT!r})")
    parser.add_argument("--repeats", type=int, default=3, help="unchanged reruns in step b (default 3)")
    parser.add_argument("--table-lines", type=int, default=24, help="speedup table lines printed")
    parser.add_argument("--timeout-a", type=float, default=330.0)
    parser.add_argument("--timeout-b", type=float, default=120.0, help="per rerun")
    parser.add_argument("--timeout-c", type=float, default=200.0)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for step, fn in (("a", step_a), ("b", step_b), ("c", step_c)):
        if step not in args.steps:
            continue
        try:
            results[step] = fn(out, args)
        except Exception as exc:  # one step's crash must not stop the others
            print(f"{step}  crashed: {type(exc).__name__}: {exc}")
            results[step] = False
    verdict = ", ".join(f"{s}: {'ok' if ok else 'NOT OK'}" for s, ok in results.items())
    print(f"summary: {verdict} (logs: {out / 'logs'})")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
