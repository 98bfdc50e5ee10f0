"""reports/summary.md: the pull-request comment, leading with what this change broke.

Layout: a hidden marker (how ``kcheck post`` finds its own comment), a verdict line; toolchain,
target, commit and run link; a counts table per kernel; then groups of cases sharing a category
and signature, in this order: new failures, golden changes, pre-existing failures, flaky cases,
fixed cases; unreadable shards last. Groups are split as triage.md splits them (mismatch
categories per kernel, numel overflows per limit: checker/results/group.py). Each group shows its
category, signature, how many cases share it, its headline, a link to its triage.md section, one
representative case with its key fields, what to do next (its category's ``next_step``), its
repro command and, for a golden change, its diff and the command that accepts it; commands
relative to the repository root (checker/results/commands.py).

Size: GitHub rejects comment bodies over 65,536 characters (REST API, "body is too long"); the
renderer also stays under 262,144 bytes (65,536 four-byte characters). Every group keeps at least
its one-line entry; then, while they fit and in the order above, every group's headline, then
details group by group; a note names the artifact holding the full report whenever anything was
left out.

Untrusted text (kernel names, messages, configs, diffs) is only shown as code
(:mod:`checker.escape`), so no @mention, link, HTML or table break renders live.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from checker.categories import GOLDEN_CATEGORIES, Owner
from checker.escape import html_code, md_block, md_code
from checker.model import Record
from checker.results.baseline import CaseResult, Classification, Group, Status
from checker.results.commands import accept_command, accept_label, diff_head, next_step, repro_command
from checker.results.group import anchor_of, format_knobs, headline, shown_record, split_groups

#: GitHub's limit on an issue comment body, in characters (REST API: "body is too long
#: (maximum is 65536 characters)").
COMMENT_CHAR_LIMIT = 65_536
#: Byte cap kept alongside: 65,536 characters of up to 4 UTF-8 bytes each.
COMMENT_BYTE_LIMIT = 262_144
#: Default name of the CI artifact that holds the full reports directory.
DEFAULT_ARTIFACT = "kcheck-reports"
#: Cases listed by name inside one group's collapsed list.
MAX_LISTED_CASES = 40
#: Characters of one golden diff shown in the comment.
MAX_DIFF_CHARS = 12_000
#: Characters of one failure message shown in the comment.
MAX_MESSAGE_CHARS = 1_500
#: Characters of a group's headline (the most informative line of its message) in the comment.
MAX_HEADLINE_CHARS = 120
#: The triage file ``kcheck report`` writes beside summary.md; each group links to its entry.
TRIAGE_FILE = "triage.md"
#: Levels of detail of a group (see _group_levels): bare line, line with headline, compact, full.
_LEVELS = 4
#: Kernels listed in the counts table (kernels with new failures or golden changes first); the
#: total row still counts every case. Bounds the part of the comment that is never cut.
MAX_TABLE_KERNELS = 100

_SECTIONS: tuple[tuple[Status, str], ...] = (
    (Status.NEW, "New failures"),
    (Status.GOLDEN, "Golden changes"),
    (Status.PRE_EXISTING, "Pre-existing failures (also failing on the base)"),
    (Status.FLAKY, "Flaky (failed, then passed on a rerun)"),
    (Status.FIXED, "Fixed (failing on the base, passing now)"),
)
_HEX = re.compile(r"^[0-9a-f]{7,64}$")
# A run link is put into markdown as a link target, so only plain https URLs qualify.
_RUN_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%/-]*)?$")


def marker(comment_id: str = "kcheck") -> str:
    """The hidden HTML comment that identifies kcheck's sticky comment (one per ``comment_id``)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", comment_id):
        raise ValueError(f"comment id {comment_id!r}: use 1-64 letters, digits, '_', '.', '-'")
    return f"<!-- kcheck-report:{comment_id} -->"


@dataclass(frozen=True)
class RunInfo:
    """Where the results come from, for the comment's header (all optional)."""

    commit: str | None = None
    run_url: str | None = None
    artifact: str = DEFAULT_ARTIFACT
    comment_id: str = "kcheck"
    baseline_source: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: str | None) -> RunInfo:
        """Commit and run link from GitHub Actions' default variables (GITHUB_SHA,
        GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT); ``overrides``
        that are not None win."""
        run_url = None
        if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
            run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
            if env.get("GITHUB_RUN_ATTEMPT", "1") != "1":
                run_url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
        values: dict[str, str | None] = {"commit": env.get("GITHUB_SHA"), "run_url": run_url}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class _Block:
    """One piece of the comment at increasing levels of detail (index 0: the shortest; a group
    has :data:`_LEVELS`: its line, the line with its headline, compact details, full details)."""

    levels: list[str]
    level: int = 0

    @property
    def text(self) -> str:
        return self.levels[self.level]


def _size(text: str) -> tuple[int, int]:
    return len(text), len(text.encode("utf-8", "surrogatepass"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _header(result: Classification, info: RunInfo) -> str:
    counts = result.counts()
    new, golden = counts[Status.NEW], counts[Status.GOLDEN]
    unreadable = _plural(len(result.corrupt), "unreadable result")
    if new or golden:
        parts = [_plural(new, "new failure")] + ([_plural(golden, "golden change")] if golden else [])
        parts += [unreadable] if result.corrupt else []
        verdict = f"❌ {', '.join(parts)}"
    elif result.corrupt:
        # A record that could not be read may have been a failure: never a green headline.
        verdict = f"❌ {unreadable} (listed below)"
    elif any(c.record.failed for c in result.cases):
        verdict = "✅ no new failures (pre-existing or flaky ones below)"
    else:
        verdict = "✅ no failures"
    records = [c.record for c in result.cases]
    lines = [marker(info.comment_id), f"## kcheck: {verdict}", ""]
    facts = []
    toolchain = _common(records, lambda r: ", ".join(f"{k} {v}" for k, v in sorted(r.toolchain.items())))
    if toolchain:
        facts.append(f"**toolchain** {toolchain}")
    targets = _common(records, lambda r: r.target)
    modes = _common(records, lambda r: r.mode)
    if targets:
        facts.append(f"**target** {targets}" + (f" ({modes})" if modes else ""))
    if info.commit:
        sha = info.commit.lower()
        facts.append(f"**commit** `{sha[:12]}`" if _HEX.match(sha) else f"**commit** {md_code(info.commit)}")
    if _safe_url(info.run_url):
        facts.append(f"[**run**]({info.run_url})")
    if facts:
        lines += [" · ".join(facts), ""]
    if result.baseline_given:
        base = f" {md_code(info.baseline_source)}" if info.baseline_source else ""
        lines.append(f"Compared with the base branch's results{base}.")
    else:
        lines.append("No baseline given: every failure counts as new.")
    extra = []
    if result.reruns:
        extra.append(f"{_plural(result.reruns, 'rerun')} merged")
    if result.missing:
        extra.append(f"{_plural(len(result.missing), 'case')} of the baseline not in this run")
    if extra:
        lines.append("; ".join(extra).capitalize() + ".")
    return "\n".join(lines)


def _safe_url(url: str | None) -> bool:
    return bool(url and _RUN_URL.match(url))


def _common(records: Sequence[Record], key: Callable[[Record], str]) -> str:
    values: dict[str, int] = {}
    for rec in records:
        value = key(rec)
        if value:
            values[value] = values.get(value, 0) + 1
    shown = sorted(values, key=lambda v: -values[v])[:4]
    more = f" (+{len(values) - 4} more)" if len(values) > 4 else ""
    return ", ".join(md_code(v) for v in shown) + more


def _table(result: Classification) -> str:
    per_kernel = result.per_kernel()
    total = result.counts()
    columns = [s for s in Status if total[s] or s in (Status.NEW, Status.PASSED)]
    head = "| kernel | cases | " + " | ".join(s.value for s in columns) + " |"
    rule = "| --- | ---: | " + " | ".join("---:" for _ in columns) + " |"
    rows = [head, rule]
    shown = per_kernel
    if len(per_kernel) > MAX_TABLE_KERNELS:
        worst = sorted(
            per_kernel, key=lambda k: (-per_kernel[k][Status.NEW] - per_kernel[k][Status.GOLDEN], k)
        )
        shown = {k: per_kernel[k] for k in sorted(worst[:MAX_TABLE_KERNELS])}
    for kernel, counts in shown.items():
        cells = [str(counts[s]) if counts[s] else "·" for s in columns]
        rows.append(
            f"| {md_code(kernel, in_table=True, limit=100)} | {sum(counts.values())} | "
            + " | ".join(cells)
            + " |"
        )
    if len(shown) < len(per_kernel):
        rows.append(
            f"| _{len(per_kernel) - len(shown)} more kernels (artifact)_ | | "
            + " | ".join("" for _ in columns)
            + " |"
        )
    cells = [f"**{total[s]}**" for s in columns]
    rows.append(f"| **total** | **{sum(total.values())}** | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _key_fields(rec: Record) -> list[str]:
    # Keys are record text too: a forged key could otherwise carry a mention or a link.
    items = [
        f"{md_code(k, limit=60)} {md_code(str(v), limit=120)}"
        for k, v in sorted(rec.fields.items())
        # The diff has its own block, the minimal config its own line.
        if k not in ("diff", "minimal_config", "minimal_config_search")
    ]
    cmp = rec.comparison
    if cmp is not None:
        items.append(
            f"mismatches {md_code(f'{cmp.mismatches}/{cmp.numel}')} ({cmp.mismatch_pct:.3g}%), max abs err "
            f"{md_code(f'{cmp.max_abs_err:.3g}')}, max rel err {md_code(f'{cmp.max_rel_err:.3g}')}, "
            f"rtol {md_code(f'{cmp.rtol:g}')}, atol {md_code(f'{cmp.atol:g}')}"
        )
        if cmp.worst_index is not None:
            items.append(
                f"worst at {md_code(str(list(cmp.worst_index)))}: got {md_code(repr(cmp.worst_actual))}, "
                f"want {md_code(repr(cmp.worst_expected))}"
            )
    items.append(f"seconds {md_code(f'{rec.duration_s:.3g}')}")
    return items


def _case_line(case: CaseResult, status: Status, baseline_given: bool) -> str:
    rec = case.record
    where = f"{md_code(rec.case.name)} ({md_code(rec.mode)}, {md_code(rec.target)})"
    if status is Status.NEW and baseline_given:
        base = case.base_category
        where += f", was {md_code(base.value)} on the base" if base else ", not on the base"
    if len(case.attempts) > 1:
        where += f", {len(case.attempts)} attempts: " + " → ".join(
            md_code(a.category.value) for a in case.attempts
        )
    return where


def _group_levels(index: int, group: Group, baseline_given: bool) -> list[str]:
    rep = group.representative
    rec = shown_record(rep, group.status)
    sig = f" · {md_code(group.signature)}" if group.signature else ""
    count = _plural(len(group.cases), "case")
    title = f"{md_code(group.category.value)}{sig} · {count}"
    short_case = rep.record.case.name
    # The anchor is a hash made here, the file name a constant: the only link target in a group.
    # A fixed case's record is the base's, which this run's triage.md does not hold.
    # The link text is the anchor: a relative link does not resolve in a PR comment (it does
    # beside summary.md in the artifact), and the anchor still finds the entry in triage.md.
    anchor = anchor_of(group)
    link = f" · [{anchor}]({TRIAGE_FILE}#{anchor})" if group.status is not Status.FIXED else ""
    what = md_code(headline(rec), limit=MAX_HEADLINE_CHARS)
    bare = f"- **{index}.** {title}, e.g. {md_code(short_case)}{link}"
    line = f"- **{index}.** {title}: {what}, e.g. {md_code(short_case)}{link}"
    where = _case_line(rep, group.status, baseline_given)
    # next_step is the category's own text (checker.categories.TRAITS), not record text.
    detail = [
        f"#### {index}. {title}",
        "",
        f"- {what}{link}",
        f"- next: {next_step(rec)}",
        f"- case: {where}",
    ]
    if rec.config_repr:
        detail.append(f"- config: {md_code(rec.config_repr, limit=400)}")
    minimal = next(
        (
            (c.record.case.name, found)
            for c in group.cases
            if isinstance(found := c.record.fields.get("minimal_config"), dict) and found
        ),
        None,
    )
    if minimal is not None:
        # From `kcheck minimize` (docs/triage.md): the knob values that make the case fail.
        knobs = format_knobs(minimal[1])
        detail.append(f"- minimal failing config ({md_code(minimal[0])}): {md_code(knobs, limit=400)}")
    detail.append("- " + "; ".join(_key_fields(rec)))
    # Someone else's checkout: commands relative to the repository root, python on PATH.
    repro = repro_command(rec, relative=True)
    accept = accept_command(rec, relative=True)
    commands: list[str] = []
    if repro:
        commands += ["- repro (from the repository root):", "", md_block(repro, "bash")]
    if accept:
        commands += [f"- {accept_label(rec)} (from the repository root):", "", md_block(accept, "bash")]
    compact = [*detail]
    head = diff_head(rec)
    if head:
        compact += ["- diff, first lines:", "", md_block("\n".join(head), "diff")]
    compact += commands
    full = [*detail]
    if group.category in GOLDEN_CATEGORIES:
        diff = str(rec.fields.get("diff") or rec.message)
        if len(diff) > MAX_DIFF_CHARS:
            diff = (
                diff[:MAX_DIFF_CHARS]
                + f"\n... [{len(diff) - MAX_DIFF_CHARS} characters more in the artifact]"
            )
        full += [
            "",
            f"<details><summary>diff of {html_code(rec.case.name)}</summary>",
            "",
            md_block(diff, "diff"),
            "",
            "</details>",
            "",
        ]
    elif rec.message.strip():
        message = rec.message
        if len(message) > MAX_MESSAGE_CHARS:
            message = (
                message[:MAX_MESSAGE_CHARS] + f"\n... [{len(message) - MAX_MESSAGE_CHARS} characters cut]"
            )
        full += ["- message:", "", md_block(message, "text")]
    full += commands
    if len(group.cases) > 1:
        names = [md_code(c.record.case.name) for c in group.cases[:MAX_LISTED_CASES]]
        more = len(group.cases) - len(names)
        full += [
            "",
            f"<details><summary>all {count}</summary>",
            "",
            *(f"- {n}" for n in names),
            *([f"- … and {more} more (artifact)"] if more else []),
            "",
            "</details>",
        ]
    # Detailed levels carry their own blank lines, so blocks always join with one newline and
    # the size of the whole is the sum of its parts.
    return [bare, line, "\n" + "\n".join(compact) + "\n", "\n" + "\n".join(full).rstrip("\n") + "\n"]


def _corrupt_block(result: Classification) -> str:
    lines = [f"### ⚠️ Unreadable shards ({len(result.corrupt)})", ""]
    for entry in result.corrupt[:50]:
        lines.append(f"- `report-corrupt` {md_code(entry.describe(), limit=300)}")
    if len(result.corrupt) > 50:
        lines.append(f"- … and {len(result.corrupt) - 50} more (junit.xml)")
    return "\n".join(lines)


def _note(info: RunInfo, limit: int) -> str:
    where = f"artifact {md_code(info.artifact)}" + (
        f" of [this run]({info.run_url})" if _safe_url(info.run_url) else ""
    )
    return (
        f"> [!NOTE]\n> Details were left out to stay under GitHub's {limit:,}-character comment limit; "
        f"the full report (summary.md, results.jsonl, junit.xml) is in the {where}."
    )


def render(
    result: Classification,
    info: RunInfo | None = None,
    *,
    max_chars: int = COMMENT_CHAR_LIMIT,
    max_bytes: int = COMMENT_BYTE_LIMIT,
    perf: str = "",
) -> str:
    """The comment for ``result``, at most ``max_chars`` characters and ``max_bytes`` UTF-8 bytes.

    ``perf`` is a section placed after the counts table, kept whole: the performance section
    (checker/perf/section.py), which bounds its own size.

    Raises:
        ValueError: the limits cannot hold even the header and counts table.
    """
    info = info or RunInfo()
    head = _header(result, info) + "\n\n" + _table(result) + "\n" + perf
    sections: list[tuple[str, list[_Block]]] = []
    for status, title in _SECTIONS:
        # Split like triage.md, so each group links to one entry there.
        every = split_groups(result.groups(status))
        # kcheck's own bugs first, in a section of their own: never under the kernels' failures.
        bugs = [g for g in every if g.category.traits.owner is Owner.CHECKER]
        if bugs:
            cases = sum(len(g.cases) for g in bugs)
            heading = (
                f"\n### kcheck errors (a bug in the checker, not in the kernels): {_plural(cases, 'case')}, "
                f"{_plural(len(bugs), 'group')}\n"
            )
            blocks = [_Block(_group_levels(i, g, result.baseline_given)) for i, g in enumerate(bugs, 1)]
            sections.append((heading, blocks))
        groups = [g for g in every if g.category.traits.owner is not Owner.CHECKER]
        if groups:
            shown = sum(len(g.cases) for g in groups)
            heading = f"\n### {title}: {_plural(shown, 'case')}, {_plural(len(groups), 'group')}\n"
            blocks = [_Block(_group_levels(i, g, result.baseline_given)) for i, g in enumerate(groups, 1)]
            sections.append((heading, blocks))
    tail = ("\n" + _corrupt_block(result) + "\n") if result.corrupt else ""
    note = "\n" + _note(info, max_chars) + "\n"

    def more(dropped: int) -> str:
        return f"\n_{dropped} more groups are in the artifact._\n" if dropped else ""

    def assemble(dropped: int, with_note: bool) -> str:
        parts = [head]
        for heading, blocks in sections:
            parts += [heading, "\n".join(b.text for b in blocks) + "\n"]
        return "".join([*parts, more(dropped), tail, note if with_note else ""])

    limits = (max_chars, max_bytes)

    def over(size: tuple[int, int]) -> bool:
        return size[0] > limits[0] or size[1] > limits[1]

    # Sizes add up part by part (see _group_levels), so each step below is O(1), not a re-render.
    fixed_size = _size(head + tail + note)
    size = [fixed_size[0], fixed_size[1]]
    for heading, blocks in sections:
        for part in (heading, "\n".join(b.text for b in blocks) + "\n"):
            c, b = _size(part)
            size[0], size[1] = size[0] + c, size[1] + b
    # Headlines of every group first; if even those do not fit, drop groups from the end of the
    # lowest-priority section (the note says where they are).
    dropped = 0
    while over((size[0] + len(more(dropped)), size[1] + len(more(dropped)))):
        if not sections:
            raise ValueError(f"the comment's header alone exceeds {max_chars} characters / {max_bytes} bytes")
        heading, blocks = sections[-1]
        gone = blocks.pop()
        c, b = _size(gone.text)
        sep = 1 if blocks else 0  # blocks are joined by one newline
        size[0], size[1] = size[0] - c - sep, size[1] - b - sep
        dropped += 1
        if not blocks:  # the section goes: its heading and its closing newline
            c, b = _size(heading)
            size[0], size[1] = size[0] - c - 1, size[1] - b - 1
            sections.pop()
    # Then more detail, group by group in priority order, while the whole still fits.
    extra = len(more(dropped))
    for level in range(1, _LEVELS):
        for _, blocks in sections:
            for block in blocks:
                if block.level != level - 1:
                    continue  # did not get the previous level: no room for this one either
                before = _size(block.text)
                block.level = level
                after = _size(block.text)
                grown = (size[0] + after[0] - before[0] + extra, size[1] + after[1] - before[1] + extra)
                if over(grown):
                    block.level = level - 1
                else:
                    size[0], size[1] = grown[0] - extra, grown[1] - extra
    complete = dropped == 0 and all(b.level == _LEVELS - 1 for _, blocks in sections for b in blocks)
    text = assemble(dropped, not complete)
    if over(_size(text)):  # the arithmetic above is exact; this guards against a future slip
        raise AssertionError(f"summary of {_size(text)} exceeds {limits}")
    return text


def fit(text: str, note: str, max_chars: int, max_bytes: int) -> str:
    """``text`` cut at a line boundary so that it, plus ``note``, fits both limits; an open code
    fence or ``<details>`` at the cut is closed first. Text that fits is returned unchanged.

    Used by ``kcheck post`` as a last guard on any body it sends and on the step summary.
    """
    if _size(text)[0] <= max_chars and _size(text)[1] <= max_bytes:
        return text
    budget_chars = max_chars - len(note) - 200
    budget_bytes = max_bytes - len(note.encode()) - 200
    if budget_chars <= 0 or budget_bytes <= 0:
        raise ValueError(f"limits {max_chars}/{max_bytes} leave no room for the note")
    lines = text.split("\n")
    kept: list[str] = []
    chars = nbytes = 0
    for line in lines:
        c, b = len(line) + 1, len(line.encode("utf-8", "surrogatepass")) + 1
        if chars + c > budget_chars or nbytes + b > budget_bytes:
            break
        kept.append(line)
        chars, nbytes = chars + c, nbytes + b
    closing = _closers(kept)
    return "\n".join([*kept, *closing, "", note]) + "\n"


_FENCE = re.compile(r"^(`{3,}|~{3,})")


def _closers(lines: Sequence[str]) -> list[str]:
    fence: str | None = None
    details = 0
    for line in lines:
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            details += line.count("<details>") + line.count("<details ") - line.count("</details>")
    out = [fence] if fence else []
    return out + ["", "</details>"] * max(details, 0)
