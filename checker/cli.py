"""The ``kcheck`` console command.

``kcheck run`` is the main job: the kernel sweep through pytest with the kcheck plugin, in
parallel with pytest-xdist, writing reports/results.jsonl, reports/junit.xml and a summary.
Exit status is pytest's: 0 all cases passed or were skipped, 1 some case failed, 2+ usage or
internal errors.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import sys
from collections.abc import Sequence

from checker.commands import ingest as ingest_command
from checker.commands import minimize as minimize_command
from checker.commands import perf as perf_command
from checker.commands import report as report_commands
from checker.commands import repro as repro_command
from checker.commands import triage as triage_command
from checker.pool import COMPILE_POLICIES, DEFAULT_COMPILE_TIMEOUT_S, DEFAULT_RUN_TIMEOUT_S
from checker.sweep import DEFAULT_CONFIGS, SHAPE_SETS
from checker.targets import DEFAULT_TARGET, TARGETS


def _run(args: argparse.Namespace, passthrough: list[str]) -> int:
    import pytest

    argv: list[str] = []
    for path in args.paths or ["kernels"]:
        # --kernels, not a positional path: pytest's rootdir (and with it the project's ini and
        # golden directory) stays where kcheck runs, whatever directory the suite is in. Path
        # options go as one token (--opt=PATH): pytest finds its rootdir before plugin options
        # are known, and would take a separate existing path for a test path.
        argv += [f"--kernels={path}"]
    argv += ["--configs", str(args.configs), "--sweep-seed", str(args.sweep_seed), "--shapes", args.shapes]
    argv += ["--device", args.device, f"--reports-dir={args.reports_dir}"] + (
        ["--target", args.target] if args.target else []
    )
    argv += ["--compile", args.compile, "--compile-timeout", f"{args.compile_timeout:g}"]
    argv += ["--isolate", args.isolate, "--run-timeout", f"{args.run_timeout:g}"]
    if args.no_cache:
        argv += ["--no-cache"]
    elif args.cache_dir:
        argv += [f"--cache-dir={args.cache_dir}"]
    if args.cache_max_mb is not None:
        argv += ["--cache-max-mb", f"{args.cache_max_mb:g}"]
    if args.golden_dir:
        argv += [f"--golden-dir={args.golden_dir}"]
    # The kernel paths are also the testpaths: pytest loads the conftest.py files of its testpaths
    # (and their test* subdirectories) before any kernel is collected, and a project's testpaths
    # (here: tests/, whose conftest imports test-only packages) are no business of the sweep.
    # Escaped: pytest globs each testpath and shlex-splits the value.
    testpaths = " ".join(shlex.quote(glob.escape(p)) for p in args.paths or ["kernels"])
    argv += ["-o", f"testpaths={testpaths}"]
    for override in args.override_ini:
        argv += ["-o", override]
    if args.shard:
        argv += ["--shard", args.shard]
    if args.k:
        argv += ["-k", args.k]
    if args.workers != "0":
        # worksteal: a crashed worker's remaining cases are rerouted, never rerun (docs/gpu-runs.md).
        argv += ["-n", args.workers, "--dist", "worksteal"]
    if args.timeout:
        argv += ["--timeout", str(args.timeout)]
    # --tb=no: kcheck's own summary shows failures grouped by signature, one block per group
    # (pytest's one block per failing case was ~900 lines for 3 causes); `-- --tb=short` restores it.
    argv += ["-q", "-rfE", "--tb=no", "-p", "no:cacheprovider", *passthrough]
    if not _plugin_installed():
        # Running from a source tree that was not pip-installed: load the plugin by module name.
        argv = ["-p", "checker.plugin", *argv]
    print("kcheck: pytest " + " ".join(argv), file=sys.stderr, flush=True)
    return int(pytest.main(argv))


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "checker.plugin" for ep in entry_points(group="pytest11"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kcheck", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="sweep a kernel suite (pytest + kcheck plugin); extra arguments after -- go to pytest",
        description="Sweep kernel spec modules: every kernel x shape x dtype x config becomes a "
        "case with one record. Arguments after -- go to pytest unchanged; pytest flags without a "
        "value (-x, --update-golden) may also be given directly.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument(
        "paths",
        nargs="*",
        default=[],
        help="kernel module files or directories, anywhere (default: kernels)",
    )
    run.add_argument(
        "--configs", type=int, default=DEFAULT_CONFIGS, help="configs sampled per kernel/shape/dtype"
    )
    run.add_argument("--sweep-seed", type=int, default=0, help="seed of sampled configs and inputs")
    run.add_argument(
        "--shapes",
        choices=SHAPE_SETS,
        default="all",
        help="small (interpreter-sized), full, or all shapes",
    )
    run.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="cuda (native), cpu (interpreter and cross-compiles), auto (cuda when present)",
    )
    run.add_argument(
        "--target",
        choices=sorted(TARGETS),
        help=f"target to compile for on a CPU-only machine (None: {DEFAULT_TARGET}); on a GPU, the GPU",
    )
    run.add_argument(
        "--compile",
        choices=COMPILE_POLICIES,
        default="auto",
        help="compile cases in supervised workers first: check (to TTGIR), full (to a cubin), off; "
        "auto is full on a GPU, check on CPU",
    )
    run.add_argument(
        "--compile-timeout",
        type=float,
        default=DEFAULT_COMPILE_TIMEOUT_S,
        help="seconds one compile may take before its worker is killed",
    )
    run.add_argument("--reports-dir", default="reports", help="where results.jsonl and junit.xml go")
    run.add_argument(
        "--cache-dir",
        help="compile cache directory (None: $XDG_CACHE_HOME/kcheck, else ~/.cache/kcheck)",
    )
    run.add_argument("--no-cache", action="store_true", help="compile every case; no compile cache")
    run.add_argument(
        "--cache-max-mb",
        type=float,
        help="bound of the compile cache in MiB, least recently used pruned at the end (None: 512)",
    )
    run.add_argument(
        "--golden-dir",
        help="golden files of the generated code (None: the ini's kcheck_golden_dir, or golden/ "
        "beside an outside suite)",
    )
    run.add_argument(
        "--isolate",
        choices=("auto", "on", "off"),
        default="auto",
        help="cases in supervised, recycled worker processes: auto and on; off runs them in the "
        "pytest process",
    )
    run.add_argument(
        "--run-timeout",
        type=float,
        default=DEFAULT_RUN_TIMEOUT_S,
        help="with isolation: seconds one case may run before its worker is killed",
    )
    run.add_argument("--shard", help="I/N: run the I-th of N deterministic shards (checker/shard.py)")
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
        "per GPU, by default min(16, cores // GPUs)) or 0 "
        "for none ($KCHECK_WORKERS)",
    )
    run.add_argument("--timeout", type=int, default=900, help="per-case pytest-timeout in seconds (0: none)")
    report_commands.add_parsers(sub)
    ingest_command.add_parser(sub)
    repro_command.add_parser(sub)
    triage_command.add_parser(sub)
    minimize_command.add_parser(sub)
    perf_command.add_parsers(sub)
    return parser


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
        # Flag options of pytest and plugins (--update-golden, --prune, -x) need no "--";
        # options with values do, or the --opt=value form.
        passthrough = [*unknown, *passthrough]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "run" and args.configs < 0:
        build_parser().error(f"--configs must be >= 0, got {args.configs}")
    if args.command == "run":
        return _run(args, passthrough)
    if args.command == "report":
        return report_commands.run_report(args)
    if args.command == "post":
        return report_commands.run_post(args)
    # Other subcommands register a handler with parser.set_defaults(handler=...).
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
