"""Summarize a run that included the fault-injection kernels, and check it.

    python tests/faults/check_run.py reports/results.jsonl [--device cuda|cpu] [--collected N]

Prints counts by category and, per fault: its category against EXPECTED, and the case that the
same worker ran next. That case must pass, or be a fault itself that got its own expected
category: nothing else was blamed. Exits 1 on any miss.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from checker.categories import Category
from checker.model import Record
from checker.results.jsonl import read_records


def _expected() -> dict[str, tuple[Category, Category | None]]:
    spec = importlib.util.spec_from_file_location("faults", Path(__file__).with_name("faults.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.EXPECTED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--collected", type=int, help="collected case count to compare with")
    opts = parser.parse_args()
    records: list[Record] = list(read_records(opts.results))
    counts = collections.Counter(r.category.value for r in records)
    print(f"records: {len(records)}")
    for name, n in counts.most_common():
        print(f"  {name}: {n}")
    ok = opts.collected is None or opts.collected == len(records)
    if opts.collected is not None:
        print(f"collected {opts.collected}, records {len(records)}: {'equal' if ok else 'DIFFERENT'}")
    by_worker: dict[str, list[Record]] = collections.defaultdict(list)
    for r in records:
        by_worker[r.worker or "main"].append(r)
    expected = {name: gpu if opts.device == "cuda" else cpu for name, (gpu, cpu) in _expected().items()}

    def as_expected(r: Record) -> bool:
        return r.category is expected.get(r.case.kernel, Category.PASSED)

    print("| fault case | expected | got | next case on the same worker | next |")
    print("| --- | --- | --- | --- | --- |")
    for name, want in expected.items():
        for r in (r for r in records if r.case.kernel == name):
            seq = by_worker[r.worker or "main"]
            i = seq.index(r)
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            good = r.category is want and (nxt is None or as_expected(nxt))
            ok &= good
            print(
                f"| {r.case.name} | {want.value if want else '-'} | {r.category.value} | "
                f"{nxt.case.name if nxt else '(last)'} | {nxt.category.value if nxt else '-'} |"
            )
    print("fault set:", "OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
