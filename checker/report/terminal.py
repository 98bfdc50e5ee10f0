"""Terminal summaries (rich): per kernel, cases by category (the run), or by baseline status
(``kcheck report``), then the failures grouped by cause (checker/results/group.py), one block per
group with its count, headline and a few example cases.

Width: the terminal's, or ``$COLUMNS``, else 80 (a CI log). The counts table keeps one column per
category only while every column fits; narrower, the categories of a kernel are one wrapped cell,
so no kernel or category name is ever cut.

Each group says what to do next (its category's ``next_step``), a golden change shows its diff's
first lines, and commands (repro, accept) are printed whole on one line each, never wrapped
(checker.console.Whole): the terminal soft-wraps them, and a paste is the command.

Kernel names, messages and repro commands are record text: they are handed to rich as ``Text``
(never parsed as rich markup), and the rendered string goes through
:func:`checker.escape.for_log`, so that in GitHub Actions no line of it (rich also wraps
long lines, starting new ones inside a message) is a workflow command.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.console import Group as Group_
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from checker.categories import Category
from checker.console import group_block, terminal_width, to_text
from checker.model import Record
from checker.results.baseline import Classification, Status
from checker.results.commands import diff_head, next_step, shown_commands
from checker.results.group import FailureGroup, anchor_of, headline, shown_record, split_groups, triage

_STATUS_STYLE = {
    Status.NEW: "bold red",
    Status.GOLDEN: "magenta",
    Status.PRE_EXISTING: "yellow",
    Status.FLAKY: "cyan",
    Status.FIXED: "green",
}
#: Groups shown in a terminal view; the rest are counted (all are in triage.md / kcheck triage).
MAX_GROUPS = 20


@dataclass(frozen=True)
class _Column:
    name: str
    style: str | None = None


def _counts_view(
    title: str, rows: Mapping[str, Mapping[str, int]], columns: Sequence[_Column], width: int
) -> Table:
    """Per-kernel counts: one column per count while the table fits ``width``, else kernel,
    cases and one wrapped cell listing the non-zero counts (``93 passed, 2 compiler-crash``)."""
    totals: Counter[str] = Counter()
    for counts in rows.values():
        totals.update(counts)
    cases = {kernel: sum(counts.values()) for kernel, counts in rows.items()}
    names = [*rows, "total"]
    name_w = max(len(n) for n in names)
    digits = len(str(sum(totals.values())))
    # rich's box table: one padding space each side of a cell, one rule per column plus one.
    wide = (name_w + 3) + (max(5, digits) + 3) + sum(max(len(c.name), digits) + 3 for c in columns) + 1
    table = Table(title=title, show_footer=True)
    table.add_column("kernel", footer="total", no_wrap=True, overflow="fold")
    table.add_column("cases", justify="right", footer=str(sum(totals.values())))
    if wide <= width:
        for col in columns:
            table.add_column(col.name, justify="right", footer=str(totals[col.name]), style=col.style)
        for kernel, counts in rows.items():
            table.add_row(
                Text(kernel),
                str(cases[kernel]),
                *(str(counts[c.name]) if counts[c.name] else "." for c in columns),
            )
        return table

    def cell(counts: Mapping[str, int]) -> Text:
        text = Text()
        for col in columns:
            if counts.get(col.name):
                if text:
                    text.append(", ")
                text.append(f"{counts[col.name]} {col.name}", style=col.style)
        return text or Text(".")

    table.add_column("outcome", footer=cell(totals), overflow="fold", ratio=1)
    for kernel, counts in rows.items():
        table.add_row(Text(kernel), str(cases[kernel]), cell(counts))
    return table


def summary_table(records: Iterable[Record], width: int | None = None) -> Table:
    """A table with one row per kernel plus a total row; failure columns appear only for
    categories that occurred (a wrapped list of them when the columns do not fit ``width``)."""
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
    columns = [
        _Column("passed"),
        *(_Column(c.value, "red") for c in seen_failures),
        *([_Column("lost", "red")] if lost else []),
        _Column("skipped"),
    ]
    rows: dict[str, dict[str, int]] = {}
    for kernel in sorted(per_kernel):
        counts = per_kernel[kernel]
        rows[kernel] = {
            "passed": counts[Category.PASSED],
            "skipped": sum(n for c, n in counts.items() if c.is_skip),
            **{c.value: counts[c] for c in seen_failures},
            **({"lost": lost[kernel]} if lost else {}),
        }
    return _counts_view("kcheck summary", rows, columns, width or terminal_width())


def _triage_block(index: int, group: FailureGroup) -> Group_:
    rec = group.representative
    kernels = group.kernels()
    details = [("kernels", ", ".join(f"{k} ({n})" for k, n in kernels.most_common(6)))]
    sources = group.sources()
    if sources:
        details.append(("source", ", ".join(f"{s} ({n})" for s, n in sources.most_common(3))))
    return group_block(
        index,
        group.key.category.value,
        group.cases,
        group.headline,
        [rec.case.name, *(r.case.name for r in group.records)],
        tag=f"[{group.key.signature or '-'}]",
        style="red",
        details=details,
        code=diff_head(rec),
        next_step=next_step(rec),
        commands=shown_commands(rec),
    )


def failure_groups_view(records: Iterable[Record], max_groups: int = MAX_GROUPS) -> list[RenderableType]:
    """The failures of one run grouped by cause (:func:`checker.results.group.triage`), largest
    group first, at most ``max_groups`` blocks."""
    result = triage([("run", list(records))])
    if not result.groups:
        return []
    parts: list[RenderableType] = [
        Text(
            f"\nfailures: {result.failing_cases} cases in {len(result.groups)} groups "
            "(details: kcheck triage)",
            style="bold",
        )
    ]
    bugs = sum(g.cases for g in result.groups if g.key.category.shown_first)
    if bugs:
        parts.append(
            Text(
                f"kcheck errors: {bugs} cases hit a bug in kcheck itself, not in their kernels (exit "
                "status 3); each record's message holds the traceback: please report it",
                style="bold red",
            )
        )
    parts += [_triage_block(i, g) for i, g in enumerate(result.groups[:max_groups], 1)]
    if len(result.groups) > max_groups:
        parts.append(Text(f"  ... {len(result.groups) - max_groups} more groups: kcheck triage"))
    return parts


def render(records: Iterable[Record], width: int | None = None, color: bool = False) -> str:
    """The summary table and the failure groups as text, for pytest's terminal reporter or a log
    (escaped for the log in GitHub Actions: :func:`checker.escape.for_log`)."""
    records = list(records)
    width = width or terminal_width()
    return to_text(Group_(summary_table(records, width), *failure_groups_view(records)), width, color)


def classification_view(
    result: Classification, max_groups: int = MAX_GROUPS, width: int | None = None
) -> Group_:
    """The same summary as the PR comment, for a terminal: status counts per kernel, then the
    groups (new failures first), each with its count, headline, a few cases and a repro command.
    Untrusted text is passed as plain ``Text``, never as rich markup."""
    per_kernel = result.per_kernel()
    total = result.counts()
    statuses = [s for s in Status if total[s] or s in (Status.NEW, Status.PASSED)]
    rows = {kernel: {s.value: counts[s] for s in statuses} for kernel, counts in per_kernel.items()}
    columns = [_Column(s.value, _STATUS_STYLE.get(s)) for s in statuses]
    parts: list[RenderableType] = [_counts_view("kcheck report", rows, columns, width or terminal_width())]
    if not result.baseline_given:
        parts.append(Text("no baseline given: every failure counts as new", style="yellow"))
    for status in tuple(Status)[:5]:
        groups = split_groups(result.groups(status))
        if not groups:
            continue
        parts.append(
            Text(f"\n{status.value}: {len(result.of(status))} cases in {len(groups)} groups", style="bold")
        )
        for i, group in enumerate(groups[:max_groups], 1):
            rec = shown_record(group.representative, status)
            link = f" triage.md#{anchor_of(group)}" if status is not Status.FIXED else ""
            parts.append(
                group_block(
                    i,
                    group.category.value,
                    len(group.cases),
                    headline(rec),
                    [c.record.case.name for c in group.cases],
                    tag=f"[{group.signature or '-'}]{link}",
                    style=_STATUS_STYLE.get(status),
                    code=diff_head(rec),
                    next_step=next_step(rec),
                    commands=shown_commands(rec),
                )
            )
        if len(groups) > max_groups:
            parts.append(Text(f"  ... {len(groups) - max_groups} more groups in summary.md, triage.md"))
    for entry in result.corrupt:
        parts.append(Text(f"report-corrupt: {entry.describe()}", style="red"))
    return Group_(*parts)


def render_classification(result: Classification, width: int | None = None, color: bool = False) -> str:
    """:func:`classification_view` as text, escaped for the log in GitHub Actions
    (:func:`checker.escape.for_log`)."""
    width = width or terminal_width()
    return to_text(classification_view(result, width=width), width, color)
