"""Terminal summaries (rich): per kernel, cases by category (the run), or by baseline status
(``kcheck report``).

Kernel names, messages and repro commands are record text: they are handed to rich as ``Text``
(never parsed as rich markup), and the rendered string goes through
:func:`checker.report.escape.for_log`, so that in GitHub Actions no line of it (rich also wraps
long lines, starting new ones inside a message) is a workflow command.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.console import Group as Group_
from rich.table import Table
from rich.text import Text

from checker.model import Category, Record
from checker.report.baseline import Classification, Status
from checker.report.escape import for_log

_STATUS_STYLE = {
    Status.NEW: "bold red",
    Status.GOLDEN: "magenta",
    Status.PRE_EXISTING: "yellow",
    Status.FLAKY: "cyan",
    Status.FIXED: "green",
}


def summary_table(records: Iterable[Record]) -> Table:
    """A table with one row per kernel plus a total row; failure columns appear only for
    categories that occurred."""
    per_kernel: dict[str, Counter[Category]] = defaultdict(Counter)
    lost: Counter[str] = Counter()
    for rec in records:
        per_kernel[rec.case.kernel][rec.category] += 1
        if rec.lost:
            # Collected, never recorded: a failure column of its own, not "skipped".
            lost[rec.case.kernel] += 1
            per_kernel[rec.case.kernel][rec.category] -= 1
    seen_failures = sorted(
        {c for counts in per_kernel.values() for c in counts if c.is_failure}, key=lambda c: c.value
    )
    table = Table(title="kcheck summary", show_footer=True)
    totals: Counter[str] = Counter()
    table.add_column("kernel", footer="total")
    columns = ["cases", "passed", *(c.value for c in seen_failures), *(["lost"] if lost else []), "skipped"]
    rows = []
    for kernel in sorted(per_kernel):
        counts = per_kernel[kernel]
        row = {
            "cases": sum(counts.values()) + lost[kernel],
            "passed": counts[Category.PASSED],
            "skipped": sum(n for c, n in counts.items() if c.is_skip),
            **{c.value: counts[c] for c in seen_failures},
            **({"lost": lost[kernel]} if lost else {}),
        }
        totals.update(row)
        rows.append((kernel, row))
    for col in columns:
        style = "red" if col not in ("cases", "passed", "skipped") else None
        table.add_column(col, justify="right", footer=str(totals[col]), style=style)
    for kernel, row in rows:
        table.add_row(Text(kernel), *(str(row[c]) if row[c] else "." for c in columns))
    return table


def render(records: Iterable[Record], width: int = 120, color: bool = False) -> str:
    """The summary table as text, for pytest's terminal reporter or a log (escaped for the log
    in GitHub Actions: :func:`checker.report.escape.for_log`)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None)
    console.print(summary_table(records))
    return for_log(buf.getvalue())


def classification_view(result: Classification, max_groups: int = 20) -> Group_:
    """The same summary as the PR comment, for a terminal: status counts per kernel, then the
    groups (new failures first), each with one case and its repro command. Untrusted text is
    passed as plain ``Text``, never as rich markup."""
    per_kernel = result.per_kernel()
    total = result.counts()
    columns = [s for s in Status if total[s] or s in (Status.NEW, Status.PASSED)]
    table = Table(title="kcheck report", show_footer=True)
    table.add_column("kernel", footer="total")
    table.add_column("cases", justify="right", footer=str(sum(total.values())))
    for status in columns:
        style = _STATUS_STYLE.get(status)
        table.add_column(status.value, justify="right", footer=str(total[status]), style=style)
    for kernel, counts in per_kernel.items():
        table.add_row(
            Text(kernel), str(sum(counts.values())), *(str(counts[s]) if counts[s] else "." for s in columns)
        )
    parts: list[RenderableType] = [table]
    if not result.baseline_given:
        parts.append(Text("no baseline given: every failure counts as new", style="yellow"))
    for status in tuple(Status)[:5]:
        groups = result.groups(status)
        if not groups:
            continue
        parts.append(
            Text(f"\n{status.value}: {len(result.of(status))} cases in {len(groups)} groups", style="bold")
        )
        for group in groups[:max_groups]:
            rec = group.representative.record
            line = Text("  ")
            line.append(group.category.value, style=_STATUS_STYLE.get(status))
            line.append(f" [{group.signature or '-'}] x{len(group.cases)}  ")
            line.append(rec.case.name)
            first = rec.message.strip().splitlines()[0] if rec.message.strip() else ""
            if first:
                line.append(f"\n    {first[:200]}")
            if rec.repro:
                line.append(f"\n    repro: {rec.repro}", style="dim")
            parts.append(line)
        if len(groups) > max_groups:
            parts.append(Text(f"  ... {len(groups) - max_groups} more groups in summary.md"))
    for entry in result.corrupt:
        parts.append(Text(f"report-corrupt: {entry.describe()}", style="red"))
    return Group_(*parts)


def render_classification(result: Classification, width: int = 120, color: bool = False) -> str:
    """:func:`classification_view` as text, escaped for the log in GitHub Actions
    (:func:`checker.report.escape.for_log`)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None)
    console.print(classification_view(result))
    return for_log(buf.getvalue())
