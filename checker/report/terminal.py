"""Terminal summary (rich): per kernel, cases passed / failed by category / skipped."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from checker.model import Category, Record


def summary_table(records: Iterable[Record]) -> Table:
    """A table with one row per kernel plus a total row; failure columns appear only for
    categories that occurred."""
    per_kernel: dict[str, Counter[Category]] = defaultdict(Counter)
    for rec in records:
        per_kernel[rec.case.kernel][rec.category] += 1
    seen_failures = sorted(
        {c for counts in per_kernel.values() for c in counts if c.is_failure}, key=lambda c: c.value
    )
    table = Table(title="kcheck summary", show_footer=True)
    totals: Counter[str] = Counter()
    table.add_column("kernel", footer="total")
    columns = ["cases", "passed", *(c.value for c in seen_failures), "skipped"]
    rows = []
    for kernel in sorted(per_kernel):
        counts = per_kernel[kernel]
        row = {
            "cases": sum(counts.values()),
            "passed": counts[Category.PASSED],
            "skipped": sum(n for c, n in counts.items() if c.is_skip),
            **{c.value: counts[c] for c in seen_failures},
        }
        totals.update(row)
        rows.append((kernel, row))
    for col in columns:
        style = "red" if col not in ("cases", "passed", "skipped") else None
        table.add_column(col, justify="right", footer=str(totals[col]), style=style)
    for kernel, row in rows:
        table.add_row(kernel, *(str(row[c]) if row[c] else "." for c in columns))
    return table


def render(records: Iterable[Record], width: int = 120, color: bool = False) -> str:
    """The summary table as text, for pytest's terminal reporter or a log."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None)
    console.print(summary_table(records))
    return buf.getvalue()
