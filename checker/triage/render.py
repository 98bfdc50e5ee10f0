"""Rendering a :class:`~checker.results.group.Triage`: a terminal view (rich) and markdown
(``triage.md``, which the PR comment links into, one anchor per group). After the failure
groups both show the last run's cases that did not run, by reason, and its result tables
(checker/results/context.py).

Commands: in the terminal as stored (this machine's), each whole on one line
(checker.console.Whole); in markdown, an artifact read elsewhere, relative to the repository
root (checker.results.commands.relative_command).

All record text (kernel names, messages, configs, repro commands, minimal configs, run names)
is hostile: in the terminal it is rich ``Text`` (never markup) escaped for the CI log; in
markdown it is only ever code (:mod:`checker.escape`), so no @mention, link, HTML tag or
``::error::`` line renders or runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich import box
from rich.console import Group as Group_
from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from checker.console import group_block, terminal_width, to_text
from checker.escape import clean, md_block, md_code
from checker.model import Record
from checker.results.commands import (
    accept_command,
    accept_label,
    diff_head,
    next_step,
    repro_command,
    shown_commands,
)
from checker.results.context import (
    NotRunGroup,
    ResultTable,
    TableCell,
    first_line,
    not_run_facts,
    reason_counts,
)
from checker.results.group import FailureGroup, Triage, format_knobs

#: Values listed per detail line (kernels, dtypes, shapes); the rest are counted.
MAX_VALUES = 8
#: Cases listed by name in a markdown group.
MAX_LISTED_CASES = 40
#: Characters of the representative's message in markdown.
MAX_MESSAGE_CHARS = 4_000
#: Not-run cases listed per reason in the terminal; the rest are counted (all are in markdown,
#: up to :data:`MAX_LISTED_CASES`).
MAX_NOT_RUN_SHOWN = 10
#: Marks a table cell whose accuracy check failed (ASCII: a CI log may not render symbols).
INACCURATE_MARK = "!acc"


def _counted(counts: Counter[str], limit: int = MAX_VALUES) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _more(counts: Counter[str], limit: int = MAX_VALUES) -> int:
    return max(0, len(counts) - limit)


def _plain_counts(counts: Counter[str]) -> str:
    text = ", ".join(f"{value} ({n})" for value, n in _counted(counts))
    more = _more(counts)
    return text + (f", +{more} more" if more else "")


def _seen(triage: Triage, group: FailureGroup) -> tuple[str, str, str] | None:
    """(runs seen in, first run's name, last run's name) when several runs were given."""
    if len(triage.runs) < 2:
        return None
    runs = group.runs
    return (
        f"{len(runs)} of {len(triage.runs)} runs",
        triage.runs[runs[0]],
        triage.runs[runs[-1]],
    )


def _details(triage: Triage, group: FailureGroup) -> list[tuple[str, str]]:
    """The (label, plain text) lines both renderers show for a group."""
    out = [
        ("kernels", _plain_counts(group.kernels())),
        ("dtypes", _plain_counts(group.dtypes())),
        ("shapes", _plain_counts(group.shapes())),
    ]
    configs = group.configs()
    if len(configs) > 1:
        knobs = group.shared_knobs()
        out.append((f"shared by all {len(configs)} configs", format_knobs(knobs) if knobs else "no knob"))
    sources = group.sources()
    if sources:
        out.append(("source", _plain_counts(sources)))
    minimal = group.minimal_config()
    if minimal is not None:
        out.append(("minimal config", format_knobs(minimal)))
    seen = _seen(triage, group)
    if seen is not None:
        out.append(("seen", f"in {seen[0]}; first {seen[1]}, last {seen[2]}"))
    frame = group.representative.fields.get("checker_frame")
    if group.key.category.shown_first and isinstance(frame, str):
        out.append(("kcheck bug at", f"{frame}; the traceback is in the record's message (--markdown)"))
    return out


def _cases(n: int, word: str = "case") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts_line(triage: Triage, markdown: bool = False) -> str:
    """``N failing cases in G groups; K not run (interrupted 2, ...)``: the failures of all
    runs, the not-run cases of the last one (said so when there are several). The reasons are
    record text: code in ``markdown``."""
    text = f"{triage.failing_cases} failing cases in {len(triage.groups)} groups; "
    text += f"{triage.not_run_cases} not run"
    if len(triage.runs) > 1:
        text += " in the last run"
    if triage.not_run:
        reasons = reason_counts(triage.not_run)
        text += f" ({md_code(reasons, limit=500) if markdown else reasons})"
    return text


def _last_run_note(triage: Triage) -> str:
    """`` (last run: NAME)`` when several runs were given: not-run cases and tables are the last
    run's only."""
    return f" (last run: {triage.runs[-1]})" if len(triage.runs) > 1 else ""


def terminal_view(triage: Triage, width: int | None = None) -> Group_:
    """The triage as rich renderables: a one-line summary, then one block per group (largest
    first) with its count, headline, kernels, dtypes, shapes, shared knobs, the kernel source line
    a compile error points at, minimal config, first
    and last run, what to do next, example cases, a golden diff's first lines and the repro (and
    golden accept) command, each whole on one line; then the last run's not-run cases by reason
    and its result tables (laid out for ``width`` columns, None: the terminal's)."""
    runs = f"{len(triage.runs)} run{'' if len(triage.runs) == 1 else 's'}"
    head = Text(f"kcheck triage: {_counts_line(triage)} ({runs}: ", style="bold")
    head.append(", ".join(triage.runs))
    head.append(")", style="bold")
    parts: list[RenderableType] = [head]
    for i, group in enumerate(triage.groups, 1):
        rep = group.representative
        parts.append(Text(""))
        parts.append(
            group_block(
                i,
                group.key.category.value,
                group.cases,
                group.headline,
                [rep.case.name, *(r.case.name for r in group.records)],
                tag=f"[{group.key.signature or '-'}] {group.anchor}",
                style="red",
                details=_details(triage, group),
                code=diff_head(rep),
                next_step=next_step(rep),
                commands=shown_commands(rep),
            )
        )
    if not triage.groups:
        parts.append(Text("no failures"))
    if triage.not_run:
        parts += [Text(""), _not_run_view(triage)]
    for table in triage.tables:
        parts += [Text(""), _table_view(triage, table, width or terminal_width())]
    return Group_(*parts)


def _not_run_view(triage: Triage) -> Group_:
    """The not-run cases: per listed reason its count and each case (name, then what its fields
    say, else its message's first line, indented under the name so a wrapped line never reads
    as the next case); counted-only reasons (``no GPU``) as one line each."""
    parts: list[RenderableType] = [
        Text(f"Not run: {_cases(triage.not_run_cases)}{_last_run_note(triage)}", style="bold")
    ]
    for group in triage.not_run:
        if not group.listed:
            line = Text(f"{group.reason}: {_cases(group.cases)}, counted, not listed", style="dim")
            parts.append(Padding(line, (0, 0, 0, 2)))
            continue
        top = Text(group.reason, style="yellow")
        top.append(f" x{group.cases}", style="bold")
        parts.append(Padding(top, (0, 0, 0, 2)))
        for rec in group.records[:MAX_NOT_RUN_SHOWN]:
            parts.append(Padding(Text(clean(rec.case.name)), (0, 0, 0, 4)))
            detail = not_run_facts(rec) or first_line(clean(rec.message))
            if detail:
                parts.append(Padding(Text(detail, style="dim"), (0, 0, 0, 6)))
        more = group.cases - MAX_NOT_RUN_SHOWN
        if more > 0:
            parts.append(Padding(Text(f"... and {more} more", style="dim"), (0, 0, 0, 4)))
    return Group_(*parts)


def _table_view(triage: Triage, table: ResultTable, width: int) -> RenderableType:
    """One operator's result table: x_val rows, one column per implementation; as a list per
    x_val when the columns would not fit ``width`` (a table folded into 6-character columns
    reads worse than a list)."""
    title = Text("Result table: ", style="bold")
    title.append(clean(table.operator) or "unknown operator")
    title.append(
        f" ({_cases(len(table.rows), 'input')} x {_cases(len(table.implementations), 'implementation')}"
        f"{_last_run_note(triage)})"
    )
    # Record text: control characters and bidi overrides made visible before widths are taken.
    rows = [clean(x) for x in table.rows]
    impls = [clean(i) for i in table.implementations]
    texts = [[_cell_text(c) for c in row] for row in table.cells]
    widths = [max([len(impl), *(len(row[j].plain) for row in texts)]) for j, impl in enumerate(impls)]
    x_width = max([len("x_val"), *(len(x) for x in rows)])
    # rich's SIMPLE box: one padding space each side of every cell, one space between columns.
    fits = x_width + sum(widths) + 3 * (len(widths) + 1) <= width
    parts: list[RenderableType] = [title]
    if fits:
        grid = Table(box=box.SIMPLE, pad_edge=False, show_edge=False)
        grid.add_column("x_val", overflow="fold")
        for impl in impls:
            grid.add_column(Text(impl), justify="right", overflow="fold")
        for x_val, row in zip(rows, texts, strict=True):
            grid.add_row(Text(x_val), *row)
        parts.append(grid)
    else:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(overflow="fold", ratio=1)
        grid.add_column(overflow="fold", ratio=1)
        for x_val, row in zip(rows, texts, strict=True):
            grid.add_row(Text(x_val), "")
            for impl, text in zip(impls, row, strict=True):
                if text.plain:
                    grid.add_row(Text("  ").append(impl), text)
        parts.append(grid)
    if table.inaccurate:
        parts.append(
            Text(f"{INACCURATE_MARK}: tritonbench's accuracy check failed (accuracy: false)", style="dim")
        )
    return Group_(*parts)


def _cell_text(cell: TableCell | None) -> Text:
    if cell is None:
        return Text("")
    # A failed cell (no metrics) in red; a cell with numbers but a failed accuracy check is marked.
    failed = cell.record.category.is_failure and not cell.metrics
    out = Text(cell.text, style="red" if failed else "")
    if cell.inaccurate:
        out.append(f" {INACCURATE_MARK}", style="red")
    return out


def render_terminal(triage: Triage, width: int | None = None, color: bool = False) -> str:
    """:func:`terminal_view` as text at ``width`` (None: the terminal's, else 80), escaped for
    the CI log."""
    width = width or terminal_width()
    return to_text(terminal_view(triage, width), width, color)


def render_markdown(triage: Triage) -> str:
    """The triage as markdown: an index table linking each group, then one section per group
    under an HTML anchor ``<a id="group-…">`` (stable: a hash of category, signature and scope,
    :attr:`checker.results.group.GroupKey.anchor`). Record text only ever appears as code."""
    runs = ", ".join(md_code(r, limit=200) for r in triage.runs)
    lines = [
        "# kcheck triage",
        "",
        f"{_counts_line(triage, markdown=True)}, "
        f"from {len(triage.runs)} run{'' if len(triage.runs) == 1 else 's'}: {runs}. "
        "Largest group first; how groups are formed: docs/triage.md.",
        "",
    ]
    if triage.groups:
        lines += ["| # | cases | category | headline |", "| ---: | ---: | --- | --- |"]
        for i, group in enumerate(triage.groups, 1):
            category = md_code(group.key.category.value, in_table=True)
            head = md_code(group.headline, in_table=True, limit=120)
            lines.append(f"| [{i}](#{group.anchor}) | {group.cases} | {category} | {head} |")
        lines.append("")
    else:
        lines += ["No failures.", ""]
    for i, group in enumerate(triage.groups, 1):
        lines += _markdown_group(triage, i, group)
    if triage.not_run:
        lines += _markdown_not_run(triage)
    if triage.tables:
        lines += _markdown_tables(triage)
    return "\n".join(lines).rstrip("\n") + "\n"


def _last_run_md(triage: Triage) -> str:
    if len(triage.runs) < 2:
        return ""
    return f" Of the last run only, {md_code(triage.runs[-1], limit=200)}."


def _markdown_not_run(triage: Triage) -> list[str]:
    out = [
        "## Not run",
        "",
        f"{_cases(triage.not_run_cases)} did not run ({md_code(reason_counts(triage.not_run), limit=500)})."
        + _last_run_md(triage)
        + " Lost cases are failures and grouped above.",
        "",
    ]
    for group in triage.not_run:
        if group.listed:
            out += _markdown_not_run_group(group)
    counted = [g for g in triage.not_run if not g.listed]
    for group in counted:
        out.append(f"- {md_code(group.reason)}: {_cases(group.cases)}, counted, not listed")
    if counted:
        out.append("")
    return out


def _markdown_not_run_group(group: NotRunGroup) -> list[str]:
    out = [f"### {md_code(group.reason)} · {group.cases} case{'' if group.cases == 1 else 's'}", ""]
    for rec in group.records[:MAX_LISTED_CASES]:
        line = f"- {md_code(rec.case.name)}"
        facts = not_run_facts(rec)
        if facts:
            line += f": {md_code(facts, limit=1000)}"
        message = first_line(rec.message)
        if message:
            line += f" — {md_code(message, limit=500)}"
        out.append(line)
    more = group.cases - MAX_LISTED_CASES
    if more > 0:
        out.append(f"- … and {more} more (results.jsonl)")
    out.append("")
    return out


def _markdown_tables(triage: Triage) -> list[str]:
    out = [
        "## Result tables",
        "",
        "tritonbench's result tables, one per operator: a cell is the speedup (`1.31x`), else the "
        "latency in ms, else what failed (`cuda-oom`)." + _last_run_md(triage),
        "",
    ]
    for table in triage.tables:
        out += [f"### {md_code(table.operator or 'unknown operator')}", ""]
        out.append("| x_val | " + " | ".join(md_code(i, in_table=True) for i in table.implementations) + " |")
        out.append("| --- | " + " | ".join("---:" for _ in table.implementations) + " |")
        for x_val, row in zip(table.rows, table.cells, strict=True):
            cells = [_markdown_cell(c) for c in row]
            out.append(f"| {md_code(x_val, in_table=True)} | " + " | ".join(cells) + " |")
        out.append("")
        if table.inaccurate:
            out += ["**accuracy: false**: tritonbench's accuracy check failed for that cell.", ""]
    return out


def _markdown_cell(cell: TableCell | None) -> str:
    if cell is None:
        return ""
    text = md_code(cell.text, in_table=True)
    return text + " **accuracy: false**" if cell.inaccurate else text


def _markdown_group(triage: Triage, index: int, group: FailureGroup) -> list[str]:
    rep = group.representative
    key = group.key
    title = f"{md_code(key.category.value)} · {group.cases} case{'' if group.cases == 1 else 's'}"
    out = [
        f'<a id="{group.anchor}"></a>',
        "",
        f"## {index}. {title}",
        "",
        f"- headline: {md_code(group.headline, limit=300)}",
        # The category's own text (checker.categories.TRAITS), not record text.
        f"- next: {next_step(rep)}",
        f"- signature: {md_code(key.signature or '-')}"
        + (f" · scope {md_code(key.scope)}" if key.scope else "")
        + f" · anchor `{group.anchor}`",
    ]
    for label, counts in (
        ("kernels", group.kernels()),
        ("dtypes", group.dtypes()),
        ("shapes", group.shapes()),
        ("source", group.sources()),
    ):
        if not counts:
            continue
        more = _more(counts)
        out.append(
            f"- {label}: "
            + ", ".join(f"{md_code(v, limit=100)} ({n})" for v, n in _counted(counts))
            + (f", +{more} more" if more else "")
        )
    configs = group.configs()
    if len(configs) > 1:
        knobs = group.shared_knobs()
        shared = md_code(format_knobs(knobs), limit=1000) if knobs else "no knob"
        out.append(f"- shared by all {len(configs)} failing configs: {shared}")
    minimal = group.minimal_config()
    if minimal is not None:
        out.append(f"- minimal failing config: {md_code(format_knobs(minimal), limit=1000)}")
    seen = _seen(triage, group)
    if seen is not None:
        out.append(
            f"- seen in {seen[0]}; first {md_code(seen[1], limit=200)}, last {md_code(seen[2], limit=200)}"
        )
    out.append(
        f"- example: {md_code(rep.case.name)} ({md_code(rep.mode)}, {md_code(rep.target)})"
        + (f", run {md_code(triage.runs[group.runs[-1]], limit=200)}" if len(triage.runs) > 1 else "")
    )
    if rep.config_repr:
        out.append(f"- config: {md_code(rep.config_repr, limit=1000)}")
    if rep.message.strip():
        message = rep.message
        if len(message) > MAX_MESSAGE_CHARS:
            message = (
                message[:MAX_MESSAGE_CHARS] + f"\n... [{len(message) - MAX_MESSAGE_CHARS} characters cut]"
            )
        out += ["- message:", "", md_block(message, "text"), ""]
    head = diff_head(rep)
    if head:
        out += ["- diff, first lines:", "", md_block("\n".join(head), "diff"), ""]
    # An artifact, read on another machine: commands relative to the repository root.
    repro = repro_command(rep, relative=True)
    if repro:
        out += ["- repro (from the repository root):", "", md_block(repro, "bash"), ""]
    accept = accept_command(rep, relative=True)
    if accept:
        out += [f"- {accept_label(rep)} (from the repository root):", "", md_block(accept, "bash"), ""]
    out += _case_list(group.records)
    out.append("")
    return out


def _case_list(records: Sequence[Record]) -> list[str]:
    names = list(dict.fromkeys(r.case.name for r in records))
    if len(names) < 2:
        return []
    shown = names[:MAX_LISTED_CASES]
    more = len(names) - len(shown)
    return [
        f"<details><summary>all {len(names)} cases</summary>",
        "",
        *(f"- {md_code(n)}" for n in shown),
        *([f"- … and {more} more (results.jsonl)"] if more else []),
        "",
        "</details>",
        "",
    ]
