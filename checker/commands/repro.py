"""``kcheck repro CASE-ID``: write a standalone reproducer of one case (docs/repro.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from checker.commands.helptext import examples
from checker.results import runs

#: The latest full run's results (checker/results/runs.py).
DEFAULT_RESULTS = runs.default_results()


def add_parser(sub: Any) -> None:
    """Register ``repro`` on the ``kcheck`` subcommand parsers ``sub``."""
    p = sub.add_parser(
        "repro",
        help="write a standalone Python file that reproduces one case without the checker",
        description="Write one Python file that replays a case's failure with torch, triton and helion "
        "only: the generated Triton code, the launch, inputs, reference, tolerance, target and "
        "toolchain. Exit status 2 when the record or the kernel file is not found.",
        epilog=examples(
            "kcheck repro 'add[8x16-fp16-cfg0]'                 # writes repro_add_*.py here",
            "kcheck repro 'add[8x16-fp16-cfg0]' -o r.py && python r.py",
        ),
    )
    p.add_argument("case", help="case name, e.g. 'add[8x16-fp16-cfg0]', or a pytest node id")
    p.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="results.jsonl holding the record (default: the latest full run, %(default)s)",
    )
    p.add_argument(
        "--kernels",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="kernel files or directories to find the spec in (default: the file the record's "
        "node id names, only when it is one of the project's kernel paths, ini kcheck_kernel_paths "
        "or kernels/; a record never makes kcheck import a file outside them)",
    )
    p.add_argument(
        "-o", "--output", type=Path, help="file to write (default: repro_<kernel>_<param>.py here)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Find the record, write the reproducer, print its path and how to run it (with this
    interpreter, ``sys.executable``).

    Returns:
        0 when the file was written; 2 when the record, the kernel file or the code cannot be
        found or made (the message on stderr names the case).
    """
    from checker.triage.locate import ReproError, find_record, kernel_file_for
    from checker.triage.repro import default_output_name, write_repro

    runs.announce("repro", args.results)
    try:
        record = find_record(args.results, args.case)
        kernel_file = kernel_file_for(record, args.kernels)
        out = args.output or Path(default_output_name(record))
        write_repro(record, kernel_file, out)
    except ReproError as exc:
        print(f"kcheck repro: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"kcheck repro: case {args.case}: {exc}", file=sys.stderr)
        return 2
    print(out)
    # This interpreter has torch, triton and helion (it just generated the code); a bare
    # `python` may be another one, where the file can only say CANNOT RUN.
    print(f"run it: {shlex.quote(sys.executable)} {shlex.quote(str(out))}")
    return 0
