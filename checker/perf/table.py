"""Speedup tables and the PR comment's regression section, in markdown (docs/perf.md).

Every text that came from a results file goes through :func:`checker.escape.md_code`
(a results file may come from a pull request's own run). Sections are bounded: at most
:data:`MAX_ROWS` rows per group, the rest counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from checker.escape import md_code
from checker.perf.compare import Change, Rule, Verdict, counts, improvements, regressions
from checker.perf.records import KERNEL_ROLES, Role, TimingRecord

#: Rows shown per group in a markdown section (the rest are counted, and are in the artifact).
MAX_ROWS = 25

Group = tuple[str, tuple[int, ...], str]


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "-"


def references(records: Sequence[TimingRecord]) -> dict[Group, dict[Role, TimingRecord]]:
    """The reference timings (eager, compiled) of each kernel x shape x dtype; the fastest when a
    group has several (merged shards)."""
    out: dict[Group, dict[Role, TimingRecord]] = {}
    for rec in records:
        if rec.role in (Role.EAGER, Role.COMPILED):
            slot = out.setdefault((rec.kernel, rec.shape, rec.dtype), {})
            if rec.role not in slot or rec.median_ms < slot[rec.role].median_ms:
                slot[rec.role] = rec
    return out


def speedup(kernel: TimingRecord, reference: TimingRecord | None) -> float | None:
    """reference time / kernel time (> 1: the kernel is faster); None without a reference."""
    return reference.median_ms / kernel.median_ms if reference is not None else None


def rows(records: Sequence[TimingRecord]) -> list[list[str]]:
    """One row per kernel-role timing: kernel, shape, dtype, config, ms, GB/s, TFLOP/s,
    % of roofline, eager ms, speedup over eager, torch.compile ms, speedup over it."""
    refs = references(records)
    out = []
    for rec in sorted((r for r in records if r.role in KERNEL_ROLES), key=lambda r: (*r.key[:3], r.impl)):
        ref = refs.get((rec.kernel, rec.shape, rec.dtype), {})
        eager, compiled = ref.get(Role.EAGER), ref.get(Role.COMPILED)
        out.append(
            [
                rec.kernel,
                _shape(rec.shape),
                rec.dtype,
                rec.impl + ("*" if rec.role is Role.SAMPLED else ""),
                _num(rec.median_ms, ".4f"),
                _num(rec.gbps, ".0f"),
                _num(rec.tflops, ".1f"),
                _num(rec.pct_of_roofline, ".0f"),
                _num(eager.median_ms if eager else None, ".4f"),
                _num(speedup(rec, eager), ".2f"),
                _num(compiled.median_ms if compiled else None, ".4f"),
                _num(speedup(rec, compiled), ".2f"),
            ]
        )
    return out


HEADER = [
    "kernel",
    "shape",
    "dtype",
    "config",
    "ms",
    "GB/s",
    "TFLOP/s",
    "% roofline",
    "eager ms",
    "x eager",
    "compile ms",
    "x compile",
]


def ceilings_line(records: Sequence[TimingRecord]) -> str:
    """The measured ceilings the table's roofline column uses, one line."""
    seen: dict[str, dict[str, float]] = {}
    device = next((r.device for r in records if r.device), "")
    for rec in records:
        if rec.ceilings:
            seen.setdefault(rec.dtype, rec.ceilings)
    if not seen:
        return ""
    copy = next((c["copy_gbps"] for c in seen.values() if "copy_gbps" in c), None)
    mm = ", ".join(f"{d} {c['matmul_tflops']:.0f}" for d, c in sorted(seen.items()) if "matmul_tflops" in c)
    parts = [f"device {device}" if device else "", f"copy {copy:.0f} GB/s" if copy else ""]
    parts.append(f"matmul TFLOP/s: {mm}" if mm else "")
    return "Measured ceilings: " + "; ".join(p for p in parts if p) + "."


def markdown_table(records: Sequence[TimingRecord], limit: int | None = None) -> str:
    """The speedup table in markdown (``config*``: the fastest passing sampled config)."""
    body = rows(records)
    shown = body if limit is None else body[:limit]
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in shown:
        cells = [md_code(c, in_table=True) if i < 4 else c for i, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    if len(shown) < len(body):
        lines.append(f"\n_{len(body) - len(shown)} more rows in the artifact._")
    note = ceilings_line(records)
    return "\n".join(lines) + ("\n\n" + note if note else "") + "\n"


def text_table(records: Sequence[TimingRecord], limit: int = 60) -> str:
    """The speedup table as aligned plain text (terminal), at most ``limit`` rows."""
    body = [HEADER, *rows(records)[:limit]]
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    lines = []
    for row in body:
        cells = [
            c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _change_rows(changes: Sequence[Change]) -> list[str]:
    out = []
    for c in changes[:MAX_ROWS]:
        z = "-" if c.z is None else f"{c.z:+.1f}"
        out.append(
            f"| {md_code(c.name, in_table=True)} | {_num(c.before_ms, '.4f')} | {_num(c.after_ms, '.4f')} "
            f"| {(c.rel or 0) * 100:+.1f}% | {z} | {c.noise} ({c.runs} run{'s' if c.runs != 1 else ''}) |"
        )
    if len(changes) > MAX_ROWS:
        out.append(f"\n_{len(changes) - MAX_ROWS} more in the artifact (`kcheck compare`)._")
    return out


def rule_text(rule: Rule) -> str:
    """The rule in one line, for the section's heading note."""
    return (
        f"slower by at least {rule.min_slowdown:.0%} and {rule.min_abs_ms * 1000:g} us, modified z-score "
        f">= {rule.z_threshold:g} (docs/perf.md)"
    )


def regression_section(changes: Sequence[Change], rule: Rule, unreadable: int = 0) -> str:
    """The PR comment's performance section: regressions with before/after, then improvements;
    empty when nothing was compared."""
    compared = [c for c in changes if c.verdict not in (Verdict.NEW, Verdict.MISSING)]
    if not compared and not unreadable:
        return ""
    n = counts(changes)
    slow, fast = regressions(changes), improvements(changes)
    lines = [
        f"\n### Performance: {n['regression']} regression(s), {n['improvement']} improvement(s) "
        f"of {len(compared)} timings compared",
        "",
        f"Rule: {rule_text(rule)}. Unchanged {n['unchanged']}, new {n['new']}, missing {n['missing']}"
        + (f", {unreadable} unreadable timing line(s)" if unreadable else "")
        + ".",
    ]
    head = "| case | before ms | after ms | change | z | noise |\n|---|---|---|---|---|---|"
    if slow:
        lines += ["", "#### Regressions", "", head, *_change_rows(slow)]
    if fast:
        lines += ["", "#### Improvements", "", head, *_change_rows(fast)]
    return "\n".join(lines) + "\n"


def change_lines(changes: Sequence[Change], verbose: bool = False) -> str:
    """Plain-text lines for the terminal: regressions and improvements (all with ``verbose``)."""
    out = []
    for c in changes:
        if c.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT) or verbose:
            z = "-" if c.z is None else f"{c.z:+.1f}"
            rel = "" if c.rel is None else f" {c.rel * 100:+.1f}%"
            out.append(
                f"{c.verdict.value:<11} {c.name}  {_num(c.before_ms, '.4f')} -> {_num(c.after_ms, '.4f')} ms"
                f"{rel}  z {z} ({c.noise})"
            )
    return "\n".join(out) + ("\n" if out else "")
