"""``kcheck bench | compare | plot``: timings outside a run (docs/perf.md).

- ``kcheck bench [RESULTS ...]`` times the passing native cases of an earlier run's results (GPU
  only) without checking them again, and writes timing records (``reports/timings.jsonl``).
- ``kcheck compare RUN ... --baseline BASE [--baseline BASE2 ...]`` applies the regression rule
  (checker/perf/compare.py) to RUN's timings against the baselines (oldest first; each one run;
  a benchmark log ingested by ``kcheck ingest-log`` is a baseline too). Exit status: 0; 1 with
  ``--fail-on-regression`` when any timing regressed; 2 usage errors (a path that does not
  exist, no timings on either side); 5 ``--markdown`` cannot be written.
- ``kcheck plot RESULTS ... [-o DIR]`` writes ``speedup.md`` and the PNG plots
  (checker/perf/plot.py). Exit status 0; 2 without timings or without matplotlib (the table is
  written anyway); 5 ``-o`` cannot be written.

Inputs are read as ``kcheck report`` reads shards (:func:`checker.results.merge.members`: files,
directories, zip artifacts; streamed line by line, every line bounded in size and nesting by
:func:`checker.results.validate.loads`), so no input ends these commands in a traceback or takes
memory in proportion to what it expands to. Record text is printed through
:func:`checker.escape.for_log`.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.commands.helptext import examples
from checker.commands.report import unwritable
from checker.escape import for_log
from checker.model import Mode, Record
from checker.options import of_record
from checker.perf.compare import Rule, compare, counts, regressions
from checker.perf.records import FILE_GLOBS, KIND, Loaded, TimingRecord
from checker.results import runs
from checker.results.jsonl import LineScanner, ScannedLine
from checker.results.merge import READ_ERRORS, Member, Refused, members
from checker.results.validate import MAX_RECORD_BYTES, loads, parse_record

DEFAULT_TIMINGS = Path("reports/timings.jsonl")
#: The latest full run's results (checker/results/runs.py).
DEFAULT_RESULTS = runs.default_results()


def _say(command: str, message: object) -> None:
    print(for_log(f"kcheck {command}: {message}"), file=sys.stderr)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``bench``, ``compare`` and ``plot`` on the ``kcheck`` subcommand parser."""
    b = sub.add_parser(
        "bench",
        help="time the passing cases of an earlier run (GPU); writes timing records",
        epilog=examples("kcheck bench    # reports/results.jsonl -> reports/timings.jsonl"),
    )
    b.add_argument("results", nargs="*", type=Path, help=f"results files (default {DEFAULT_RESULTS})")
    b.add_argument(
        "--kernels",
        action="append",
        type=Path,
        default=[],
        help="kernel files or directories (default: the kernel files the records' options name)",
    )
    b.add_argument("--sweep-seed", type=int, help="seed of the inputs (default: the records' run's)")
    b.add_argument(
        "-o", "--out", type=Path, default=DEFAULT_TIMINGS, help=f"output (default {DEFAULT_TIMINGS})"
    )
    b.add_argument("--no-compile", action="store_true", help="do not time the reference under torch.compile")
    b.add_argument("--timeout", type=float, default=1800.0, help="seconds the benchmark process may take")
    b.set_defaults(handler=run_bench)

    c = sub.add_parser(
        "compare",
        help="flag performance regressions of a run's timings against baselines",
        epilog=examples("kcheck compare reports/ --baseline base/ --fail-on-regression"),
    )
    c.add_argument(
        "run", nargs="+", type=Path, help="the run's results/timings files, directories or zip artifacts"
    )
    c.add_argument(
        "--baseline",
        action="append",
        type=Path,
        default=[],
        required=True,
        help="one baseline run (results, timings or ingested log records: file, directory or zip artifact); "
        "repeat for history, oldest first",
    )
    defaults = Rule()
    c.add_argument("--min-slowdown", type=float, default=defaults.min_slowdown, help="relative, e.g. 0.05")
    c.add_argument("--min-abs-us", type=float, default=defaults.min_abs_ms * 1000, help="microseconds")
    c.add_argument("--z", type=float, default=defaults.z_threshold, help="modified z-score threshold")
    c.add_argument(
        "--min-history", type=int, default=defaults.min_history, help="baseline runs needed for history noise"
    )
    c.add_argument(
        "--ingested-dtype",
        default="unknown",
        help="dtype of ingested benchmark-log timings (logs do not say; default unknown)",
    )
    c.add_argument("--fail-on-regression", action="store_true", help="exit 1 when any timing regressed")
    c.add_argument("--markdown", type=Path, help="also write the comparison section as markdown here")
    c.add_argument("--all", action="store_true", help="print every comparison, not only changes")
    c.set_defaults(handler=run_compare)

    p = sub.add_parser(
        "plot",
        help="speedup table and PNG plots of timing records",
        epilog=examples("kcheck plot reports/timings.jsonl -o plots/"),
    )
    p.add_argument(
        "results", nargs="+", type=Path, help="results/timings files, directories or zip artifacts"
    )
    p.add_argument(
        "-o", "--out", type=Path, default=Path("reports"), help="output directory (default reports)"
    )
    p.set_defaults(handler=run_plot)


def _timings(loaded: Loaded, dtype: str = "unknown") -> list[TimingRecord]:
    from checker.perf.ingested import timings_of

    return [*loaded.timings, *timings_of(loaded.ingested, dtype)]


#: Unreadable lines and files kept (and counted past this) per command.
MAX_UNREADABLE = 1000


@dataclass
class _Reading:
    loaded: Loaded
    unlisted: int = 0

    def unreadable(self, reason: str) -> None:
        if len(self.loaded.unreadable) < MAX_UNREADABLE:
            self.loaded.unreadable.append(reason[:300])
        else:
            self.unlisted += 1


def load_bounded(paths: Sequence[Path]) -> tuple[Loaded, int]:
    """Timing records and ingested table records of results files, directories and zip archives
    (as :func:`checker.perf.records.load` finds them), streamed and bounded; also how many
    unreadable lines were counted but not listed.

    Raises:
        FileNotFoundError: a path is neither a file nor a directory.
    """
    reading = _Reading(Loaded())
    for path in paths:
        if not (path.is_dir() or path.is_file()):
            raise FileNotFoundError(f"no such file or directory: {path}")
    for path in paths:
        # Lazily: a zip member can only be opened while its archive is being iterated.
        found: Iterable[Member]
        if path.is_dir():
            found = (m for m in members(path, FILE_GLOBS) if m.open is not None)
        else:
            found = members(path, FILE_GLOBS, archive=_is_zip(path))
        for member in found:
            _load_member(member, reading)
    return reading.loaded, reading.unlisted


def _is_zip(path: Path) -> bool:
    try:
        return path.suffix == ".zip" or zipfile.is_zipfile(path)
    except OSError:
        return False


def _load_member(member: Member, reading: _Reading) -> None:
    if member.open is None:
        problem = member.problem or ""
        suffix = " the archive" if member.archived and problem.startswith("no ") else ""
        reading.unreadable(f"{member.source}: {problem}{suffix}")
        return
    try:
        with member.open() as stream:
            scanner = LineScanner(stream, max_line=MAX_RECORD_BYTES)
            for line in scanner:
                _take(member.source, line, reading)
        if scanner.truncated_at is not None:
            reading.unreadable(
                f"{member.source}:{scanner.truncated_at}: over {scanner.max_lines:,} lines, not read on"
            )
    except Refused as exc:
        reading.unreadable(f"{member.source}: {exc}")
    except READ_ERRORS as exc:
        reading.unreadable(f"{member.source}: cannot {member.verb}: {' '.join(str(exc).split())}")


def _take(source: str, line: ScannedLine, reading: _Reading) -> None:
    where = f"{source}:{line.number}"
    raw = line.data
    if raw is None:
        reading.unreadable(f"{where}: a line of {line.length:,} bytes, over {MAX_RECORD_BYTES:,}")
        return
    if not raw.strip():
        return
    loaded = reading.loaded
    try:
        data = loads(raw, "line")
        if isinstance(data, dict) and data.get("kind") == KIND:
            loaded.timings.append(TimingRecord.from_json(raw))
            return
        rec = parse_record(raw)
    except ValueError as exc:
        reading.unreadable(f"{where}: {str(exc)[:200]}")
        return
    loaded.case_records += 1
    if rec.mode is Mode.INGESTED and isinstance(rec.fields.get("metrics"), dict):
        loaded.ingested.append(rec)


def _load(command: str, paths: Sequence[Path]) -> Loaded | None:
    try:
        loaded, unlisted = load_bounded(paths)
    except FileNotFoundError as exc:
        _say(command, exc)
        return None
    for reason in loaded.unreadable[:5]:
        _say(command, f"unreadable: {reason}")
    if len(loaded.unreadable) + unlisted > 5:
        _say(command, f"{len(loaded.unreadable) + unlisted - 5} more unreadable lines")
    return loaded


def run_compare(args: argparse.Namespace) -> int:
    """``kcheck compare``; the exit status."""
    try:
        rule = Rule(args.min_slowdown, args.min_abs_us / 1000, args.z, args.min_history)
    except ValueError as exc:
        _say("compare", exc)
        return 2
    run = _load("compare", args.run)
    if run is None:
        return 2
    history = []
    for path in args.baseline:
        base = _load("compare", [path])
        if base is None:
            return 2
        history.append(_timings(base, args.ingested_dtype))
    now = _timings(run)
    if not now or not any(history):
        _say("compare", f"no timings in {'the run' if not now else 'any baseline'} (run with --benchmark)")
        return 2
    from checker.perf.table import change_lines, regression_section

    changes = compare(now, history, rule)
    print(for_log(change_lines(changes, verbose=args.all)), end="")
    n = counts(changes)
    if args.markdown:
        from checker.atomic import write_atomic

        try:
            write_atomic(args.markdown, regression_section(changes, rule).encode("utf-8"))
        except OSError as exc:
            return unwritable("compare", args.markdown, exc)
    slow = regressions(changes)
    _say(
        "compare",
        f"{n['regression']} regression(s), {n['improvement']} improvement(s), {n['unchanged']} unchanged, "
        f"{n['new']} new, {n['missing']} missing against {len(history)} baseline run(s)",
    )
    return 1 if slow and args.fail_on_regression else 0


def run_plot(args: argparse.Namespace) -> int:
    """``kcheck plot``; the exit status."""
    loaded = _load("plot", args.results)
    if loaded is None:
        return 2
    timings = _timings(loaded)
    if not timings:
        _say("plot", "no timing records (run with --benchmark, or kcheck bench)")
        return 2
    from checker.atomic import write_atomic
    from checker.perf import plot
    from checker.perf.section import TABLE_FILE
    from checker.perf.table import markdown_table

    out: Path = args.out
    try:
        write_atomic(out / TABLE_FILE, markdown_table(timings).encode("utf-8"))
        written = [out / TABLE_FILE]
        if not plot.available():
            _say("plot", f"matplotlib is not installed: wrote {out / TABLE_FILE} only")
            return 2
        written += plot.write_plots(timings, out)
    except OSError as exc:
        return unwritable("plot", out, exc)
    _say("plot", f"{len(timings)} timings -> {', '.join(map(str, written))}")
    return 0


def _recorded(records: Iterable[Record], dest: str) -> list[Any]:
    """The distinct values of run option ``dest`` the records store (checker.options.of_record),
    first seen first; a record that stores none, or none that can be read, adds nothing."""
    values: list[Any] = []
    for rec in records:
        try:
            stored = of_record(rec)
        except ValueError:
            continue
        if stored is None:
            continue
        value = stored[dest]
        for item in value if isinstance(value, list) else [value]:
            if item not in values:
                values.append(item)
    return values


def run_bench(args: argparse.Namespace) -> int:
    """``kcheck bench``; the exit status (2 without a CUDA device or passing native cases)."""
    import torch

    from checker.perf import bench, records
    from checker.results.jsonl import read_records

    if not torch.cuda.is_available():
        _say("bench", "needs a CUDA GPU; nothing timed")
        return 2
    paths = args.results or [DEFAULT_RESULTS]
    for p in paths:
        runs.announce("bench", p)
    try:
        recs = [r for p in paths for r in read_records(p)]
    except (OSError, ValueError) as exc:
        _say("bench", exc)
        return 2
    kernels = [str(k.resolve()) for k in args.kernels] or _recorded(recs, "kernels")
    seeds = _recorded(recs, "sweep_seed")
    seed = args.sweep_seed if args.sweep_seed is not None else int(seeds[0]) if seeds else 0
    job = bench.plan(recs, kernels, seed, torch_compile=not args.no_compile)
    if not job.groups:
        _say("bench", "no passing native case to time")
        return 2
    result = bench.run_job(job, args.timeout)
    for problem in result.problems[:10]:
        _say("bench", problem)
    try:
        records.write(args.out, result.records)
    except OSError as exc:
        return unwritable("bench", args.out, exc)
    from checker.perf.table import text_table

    print(for_log(text_table(result.records)), end="")
    _say("bench", f"{len(result.records)} timing records -> {args.out}")
    return 0
