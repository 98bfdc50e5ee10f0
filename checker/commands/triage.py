"""``kcheck triage [RESULTS ...] [--markdown FILE]``: failures grouped by cause (docs/triage.md).

Each RESULTS argument is one run, oldest first: a results.jsonl, a directory of shards or a zip
artifact, read as ``kcheck report`` reads shards (checker/results/merge.py). Default:
reports/results.jsonl. Exit status: 0 (a view, whatever failed); 2 when an input cannot be read
at all (missing, not a results file, no readable record), naming it; 5 when ``--markdown``
cannot be written (the exit statuses of every reports command: docs/reports.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from checker.atomic import write_atomic
from checker.commands.helptext import examples, paragraph
from checker.commands.report import EXIT_UNWRITABLE
from checker.escape import for_log
from checker.model import Record
from checker.results import runs as run_dirs
from checker.results.group import triage
from checker.results.merge import merge, read_shards
from checker.triage.render import render_markdown, render_terminal

#: Unreadable lines named one by one on stderr; the rest are counted.
MAX_PRINTED_ENTRIES = 20


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``triage`` on the ``kcheck`` subcommand parser."""
    p = sub.add_parser(
        "triage",
        help="failures grouped by cause: kernels, dtypes, shapes, shared knobs, a repro per group",
        description=paragraph(__doc__, 1),
        epilog=examples(
            "kcheck triage                                        # the last run",
            "kcheck triage old/results.jsonl reports/results.jsonl  # several runs, oldest first",
            "kcheck triage run.zip --markdown triage.md --quiet     # a CI artifact, as markdown",
        ),
    )
    p.add_argument(
        "results",
        nargs="*",
        type=Path,
        help="one run each, oldest first: results.jsonl, shard directory or zip "
        f"(default {run_dirs.default_results()}: the latest full run)",
    )
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the triage as markdown")
    p.add_argument("--quiet", action="store_true", help="no terminal view")
    p.set_defaults(handler=run)


def _say(message: object, env: Mapping[str, str]) -> None:
    # File names and reasons can quote record text: escaped so no line is a workflow command.
    print(for_log(f"kcheck triage: {message}", env), file=sys.stderr)


def run(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """``kcheck triage``; returns 0, 2 when an input is unreadable (named on stderr), 5 when the
    markdown cannot be written."""
    paths: list[Path] = list(args.results) or [run_dirs.default_results()]
    runs: list[tuple[str, list[Record]]] = []
    unreadable = False
    for path in paths:
        run_dirs.announce("triage", path, env)
        merged = merge(read_shards([path]))
        # A line that could not be read is named; the rest of that run still counts.
        for entry in merged.corrupt[:MAX_PRINTED_ENTRIES]:
            _say(f"unreadable: {entry.describe()[:500]}", env)
        if len(merged.corrupt) > MAX_PRINTED_ENTRIES:
            _say(f"unreadable: {len(merged.corrupt) - MAX_PRINTED_ENTRIES} more entries", env)
        if not merged.records:
            _say(f"{path}: no readable records", env)
            unreadable = True
        runs.append((str(path), list(merged.records)))
    if unreadable:
        return 2
    result = triage(runs)
    if args.markdown is not None:
        try:
            write_atomic(args.markdown, render_markdown(result).encode("utf-8", "surrogatepass"))
        except OSError as exc:
            _say(f"{args.markdown}: cannot write: {exc.strerror or type(exc).__name__}", env)
            return EXIT_UNWRITABLE
    if not args.quiet:
        view = render_terminal(result, color=sys.stdout.isatty())
        print(for_log(view, env), end="" if view.endswith("\n") else "\n")
    return 0
