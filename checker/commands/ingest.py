"""``kcheck ingest-log FILE... [-o OUT]``: benchmark logs -> records (docs/ingest-log.md).

Exit status: 0 when every log was read (whatever failures the logs hold: this is a conversion),
2 when a log cannot be read, 5 when the output cannot be written (the message names the file;
the previous output is left as it was). The exit statuses of every reports command:
docs/reports.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from checker.commands.helptext import examples
from checker.commands.report import EXIT_UNWRITABLE
from checker.escape import for_log
from checker.ingest.ingest import IngestSummary, LogUnreadable, ingest_paths

#: Where records go without ``-o``.
DEFAULT_OUT = Path("reports/ingested.jsonl")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ingest-log`` on the ``kcheck`` subcommand parser."""
    p = sub.add_parser(
        "ingest-log",
        help="turn Helion / tritonbench benchmark logs into kcheck records",
        description="Read benchmark logs line by line (any size, bounded memory) and write one "
        "record per finding: compile timeouts, numel overflows, Helion and baseline errors, "
        "result-table cells, interrupted runs and kernels that never ran.",
        epilog=examples(
            "kcheck ingest-log gemm-run.log softmax-run.log -o ingested.jsonl",
            "kcheck triage ingested.jsonl      # the logs' failures grouped by cause",
        ),
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="log files to read")
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"records file, replaced atomically (default {DEFAULT_OUT})",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Ingest ``args.files`` into ``args.out`` and print a summary; the exit status."""
    try:
        summary = ingest_paths(list(args.files), args.out)
    except LogUnreadable as exc:
        _error(f"cannot read log {exc.path}: {exc.reason}")
        return 2
    except OSError as exc:
        _error(f"cannot write {args.out}: {exc.strerror or type(exc).__name__}")
        return EXIT_UNWRITABLE
    print(for_log(render(summary)))
    return 0


def _error(text: str, stream: TextIO | None = None) -> None:
    print(for_log(f"kcheck ingest-log: {text}"), file=stream or sys.stderr)


def render(summary: IngestSummary) -> str:
    """The terminal summary: records per category, then per log its line counts, what it
    revealed of the target, and the first lines it skipped."""
    n_files = len(summary.files)
    lines = [
        f"kcheck ingest-log: {n_files} log{'s' if n_files != 1 else ''} -> {summary.out}: "
        f"{summary.records} record{'s' if summary.records != 1 else ''}"
    ]
    for category, count in sorted(summary.categories.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {category:<22} {count}")
    for f in summary.files:
        extra = []
        if f.oversized:
            extra.append(f"{f.oversized} oversized")
        if f.duplicates:
            extra.append(f"{f.duplicates} repeated traceback{'s' if f.duplicates != 1 else ''}")
        if f.tables:
            extra.append(f"{f.tables} result table(s), {f.table_rows} rows")
        if f.parser_errors:
            extra.append(f"{f.parser_errors} parser error(s)")
        if f.processes:
            extra.append(f"{len(f.processes)} process(es) read apart: {', '.join(f.processes[:8])}")
        more = f"; {', '.join(extra)}" if extra else ""
        lines.append(
            f"  {f.path}: {f.lines} lines, {f.understood} understood, {f.skipped} skipped{more}; "
            f"target {f.target}"
        )
        for n, text in f.skipped_examples[:3]:
            lines.append(f"    skipped line {n}: {text!r}")
    return "\n".join(lines)
