"""The ``kcheck`` console command.

``kcheck run`` is the main job: the kernel sweep through pytest with the kcheck plugin, in
parallel with pytest-xdist, writing reports/results.jsonl, reports/junit.xml and a summary.
Exit status is pytest's: 0 all cases passed or were skipped, 1 some case failed, 3 a
checker-error, 2 and 4 usage errors; with a known-failures file (the ``kcheck_baseline`` ini
option, checker/baseline_plugin.py) 0 means nothing new failed: every failure is listed there.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import sys
from collections.abc import Sequence
from typing import cast

from checker import options
from checker.commands import ingest as ingest_command
from checker.commands import minimize as minimize_command
from checker.commands import perf as perf_command
from checker.commands import report as report_commands
from checker.commands import repro as repro_command
from checker.commands import triage as triage_command
from checker.commands.helptext import Parser, examples, paragraph, version


def _run(args: argparse.Namespace, values: options.Values, passthrough: list[str]) -> int:
    import pytest

    # The kernel paths go as --kernels, not as positional paths: pytest's rootdir (and with it
    # the project's ini and golden directory) stays where kcheck runs, whatever directory the
    # suite is in.
    paths = values["kernels"] or ["kernels"]
    argv = options.pytest_args(values.replace(kernels=paths))
    # The kernel paths are also the testpaths: pytest loads the conftest.py files of its testpaths
    # (and their test* subdirectories) before any kernel is collected, and a project's testpaths
    # (here: tests/, whose conftest imports test-only packages) are no business of the sweep.
    # Escaped: pytest globs each testpath and shlex-splits the value.
    testpaths = " ".join(shlex.quote(glob.escape(p)) for p in paths)
    argv += ["-o", f"testpaths={testpaths}"]
    for override in args.override_ini:
        argv += ["-o", override]
    if args.k:
        argv += ["-k", args.k]
    if args.workers != "0":
        # worksteal: a crashed worker's remaining cases are rerouted, never rerun (docs/gpu-runs.md).
        argv += ["-n", args.workers, "--dist", "worksteal"]
    if args.timeout:
        argv += ["--timeout", str(args.timeout)]
    # --tb=no and -rN: kcheck's own summary shows failures grouped by cause, one block per group,
    # and is the last thing printed (pytest's block per failing case was ~900 lines for 3 causes,
    # its short summary one `FAILED ...` line per case, printed after kcheck's groups). Both come
    # back through the passthrough, which pytest reads last: `kcheck run -rfE -- --tb=short`.
    argv += ["-q", "-rN", "--tb=no", "-p", "no:cacheprovider", *passthrough]
    if not _plugin_installed():
        # Running from a source tree that was not pip-installed: load the plugin by module name.
        argv = ["-p", "checker.plugin", *argv]
    print("kcheck: pytest " + " ".join(argv), file=sys.stderr, flush=True)
    return int(pytest.main(argv))


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "checker.plugin" for ep in entry_points(group="pytest11"))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="kcheck",
        description=paragraph(__doc__, 0),
        epilog=examples(
            "kcheck run                                # the main job: sweep kernels/",
            "kcheck triage                             # the last run's failures grouped by cause",
            "kcheck minimize 'add[8x16-fp16-cfg3]'     # a failing case's minimal config",
            "kcheck repro 'add[8x16-fp16-cfg3]'        # a standalone reproducer file",
            "kcheck run -k golden --update-golden      # accept golden changes (commit first)",
            "kcheck report --baseline base/            # compare with the base branch's run",
        ),
    )
    parser.add_argument("--version", action=_Version, help="kcheck's version and its toolchain's, then exit")
    # Parser is an ArgumentParser: typed as one, so commands take the usual subparsers type.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, parser_class=Parser),
    )
    run = sub.add_parser(
        "run",
        help="sweep a kernel suite (pytest + kcheck plugin); extra arguments after -- go to pytest",
        description="Sweep kernel spec modules: every kernel x shape x dtype x config becomes a "
        "case with one record. Arguments after -- go to pytest unchanged; pytest flags without a "
        "value (-x) may also be given directly. The run ends with kcheck's failure groups; "
        "pytest's per-case lists are off (-rN --tb=no): -rfE brings back its short summary, "
        "-- --tb=short each failure's text.",
        epilog=examples(
            "kcheck run                                    # the bundled suite, as CI runs it",
            "kcheck run my_kernels/ -k 'softmax and bf16'  # part of a suite of one's own",
            "kcheck run --shapes small --configs 2         # interpreter-sized shapes, 2 configs",
            "kcheck run -k golden --update-golden          # accept golden changes (commit first)",
            "kcheck run -n 0 -x -- --tb=short              # one process, stop at the first failure",
        ),
    )
    # Every run option comes from the one table (checker/options.py), with its default in
    # its help; the few arguments below are kcheck run's own, and say their defaults themselves.
    options.add_cli_arguments(run)
    run.add_argument("-k", help="pytest -k expression, e.g. 'softmax and bf16'")
    run.add_argument(
        "-o",
        "--override-ini",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pytest ini override, repeatable (e.g. kcheck_golden_dir=golden)",
    )
    run.add_argument(
        "-n",
        "--workers",
        default=os.environ.get("KCHECK_WORKERS", "auto"),
        help="pytest-xdist workers: a number, 'auto' (one per core; on a GPU host --workers-per-gpu "
        f"per GPU, by default min({options.MAX_WORKERS_PER_GPU}, cores // GPUs)) or 0 "
        "for none (default: $KCHECK_WORKERS, else auto)",
    )
    run.add_argument(
        "--timeout",
        type=int,
        default=900,
        help="per-case pytest-timeout in seconds, 0 for none (default: 900)",
    )
    report_commands.add_parsers(sub)
    ingest_command.add_parser(sub)
    repro_command.add_parser(sub)
    triage_command.add_parser(sub)
    minimize_command.add_parser(sub)
    perf_command.add_parsers(sub)
    return parser


class _Version(argparse.Action):
    """``--version``: prints :func:`version` (read only when asked) and exits 0."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version())
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kcheck`` command; returns the exit status."""
    raw = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in raw:
        cut = raw.index("--")
        raw, passthrough = raw[:cut], raw[cut + 1 :]
    parser = build_parser()
    args, unknown = parser.parse_known_args(raw)
    if unknown and args.command == "run":
        # Flag options of pytest and its plugins (-x, --lf) need no "--";
        # options with values do, or the --opt=value form.
        passthrough = [*unknown, *passthrough]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "run":
        try:
            values = options.values_from(args)
        except ValueError as exc:
            parser.error(str(exc))  # exits 2, before pytest starts
        return _run(args, values, passthrough)
    if args.command == "report":
        return report_commands.run_report(args)
    if args.command == "post":
        return report_commands.run_post(args)
    # Other subcommands register a handler with parser.set_defaults(handler=...).
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
