"""Throughput and memory of ``kcheck ingest-log`` on a large log.

Builds a log of about ``--mb`` megabytes by repeating the seed logs (gemm, then softmax, again
and again) into a temporary file, then ingests it ``--runs`` times, each run in a fresh child
process so that its peak RSS is its own, and prints one table row per run and the median:

    MB  seconds  MB/s  peak RSS MB  records  lines

With ``--tracemalloc`` one more run reports the peak of Python allocations during the ingest
(slower: tracemalloc hooks every allocation).

    python benchmarks/ingest_log.py                  # ~100 MB, 3 runs
    python benchmarks/ingest_log.py --mb 20 --runs 1 --tracemalloc
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = (
    ROOT / "tests" / "data" / "seed-logs" / "gemm-benchmark-run.log",
    ROOT / "tests" / "data" / "seed-logs" / "softmax-benchmark-run.log",
)


def build_log(path: Path, seeds: list[Path], megabytes: float) -> int:
    """Write seed logs round-robin into ``path`` until it holds ``megabytes`` MB; its size."""
    chunks = [seed.read_bytes() for seed in seeds]
    target = int(megabytes * 1_000_000)
    size = 0
    with path.open("wb") as f:
        while size < target:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
    return size


def child(log: Path, out: Path, trace: bool) -> dict[str, float]:
    """One ingest in this process: seconds, peak RSS (MB), records, lines, tracemalloc peak."""
    sys.path.insert(0, str(ROOT))
    from checker.ingest.ingest import ingest_paths

    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    summary = ingest_paths([log], out)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / 1e6 if trace else float("nan")
    # Linux reports ru_maxrss in KiB.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f = summary.files[0]
    return {
        "seconds": seconds,
        "rss_mb": rss,
        "traced_mb": traced,
        "records": summary.records,
        "lines": f.lines,
        "skipped": f.skipped,
    }


def run_child(log: Path, out: Path, trace: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(log), "--out", str(out)]
    if trace:
        cmd.append("--tracemalloc")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Build the log, run the ingests, print the table; 0 on success."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--mb", type=float, default=100.0, help="size of the log to build, MB (1e6 bytes)")
    p.add_argument("--runs", type=int, default=3, help="timed ingests (each in a fresh process)")
    p.add_argument("--tracemalloc", action="store_true", help="one more run with tracemalloc")
    p.add_argument("--seed", action="append", type=Path, help="seed log to repeat (repeatable)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.out, args.tracemalloc)))
        return 0
    seeds = args.seed or list(DEFAULT_SEEDS)
    with tempfile.TemporaryDirectory(prefix="kcheck-ingest-bench-") as tmp:
        log = Path(tmp) / "big.log"
        size = build_log(log, seeds, args.mb)
        mb = size / 1e6
        out = Path(tmp) / "ingested.jsonl"
        print(
            f"log: {mb:.1f} MB from {', '.join(s.name for s in seeds)}; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cores"
        )
        print(
            f"{'run':>5} {'MB':>7} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12} {'records':>8} {'lines':>9}"
        )
        results = []
        for i in range(args.runs):
            r = run_child(log, out, trace=False)
            results.append(r)
            print(
                f"{i + 1:>5} {mb:>7.1f} {r['seconds']:>8.2f} {mb / r['seconds']:>7.1f} "
                f"{r['rss_mb']:>12.1f} {int(r['records']):>8} {int(r['lines']):>9}"
            )
        if results:
            sec = statistics.median(r["seconds"] for r in results)
            rss = statistics.median(r["rss_mb"] for r in results)
            print(f"{'med':>5} {mb:>7.1f} {sec:>8.2f} {mb / sec:>7.1f} {rss:>12.1f}")
            skipped = int(results[0]["skipped"])
            print(f"output: {out.stat().st_size / 1e6:.1f} MB of records; skipped lines: {skipped}")
        if args.tracemalloc:
            r = run_child(log, out, trace=True)
            print(
                f"tracemalloc peak during the ingest: {r['traced_mb']:.2f} MB ({r['seconds']:.1f} s traced)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
