"""``kcheck minimize CASE-ID...``: the minimal failing config of failing cases (docs/triage.md).

For each case: its record in the results file, a passing reference config of the same kernel,
shape and dtype (the ``default`` case's config when it passed, else the passing sampled config
with the fewest differing knob values, else Helion's default config, probed), then the search
of checker/triage/minimize.py, each probe a whole case in this process's isolated case worker
(checker/exec_worker.py: a probe that crashes, hangs or leaves a sticky CUDA error costs that
worker, not the search). The result is printed, stored in the record (``fields.minimal_config``,
``fields.minimal_config_search``; the results file is replaced atomically) and shown by
``kcheck triage`` and the PR comment.

Run-time failures (mismatches, CUDA errors) need the GPU they were found on: a record made in
``native`` mode is refused on a machine without one. Compile-stage failures (numel overflow,
shared memory, compiler crashes) are found on CPU by compiling for the record's target.

The kernel file is loaded only from the paths the user names (``--kernels``) or the project's
configured kernel paths, never from a path a record names (:func:`checker.triage.locate.
kernel_file_for`): a results file is data, and may come from a downloaded artifact. The probes'
scratch (generated modules, locks) lives in a run directory of this command's own
(checker/rundir.py), removed when it ends, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checker import rundir
from checker.atomic import write_atomic
from checker.commands.helptext import examples, paragraph
from checker.escape import for_log
from checker.model import Mode, Record
from checker.results import carried, runs
from checker.triage import minimize
from checker.triage.locate import (
    ReproError,
    find_in,
    kernel_file_for,
    read_results,
    recorded_options,
    spec_of,
)

#: The latest full run's results (checker/results/runs.py).
DEFAULT_RESULTS = runs.default_results()


class MinimizeError(Exception):
    """A case that cannot be minimized here; the message names it."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kcheck minimize`` on the ``kcheck`` subcommand parser."""
    p = sub.add_parser(
        "minimize",
        help="find the minimal failing config of failing cases (delta debugging)",
        description=paragraph(__doc__, 1),
        epilog=examples(
            "kcheck minimize 'block_absmax[8192x2048-bf16-cfg0]'   # one case of the last run",
            "kcheck minimize 'add[8x16-fp16-cfg3]' --no-write     # print only, keep results.jsonl",
        ),
    )
    p.add_argument("cases", nargs="+", metavar="CASE-ID", help="case names (add[8x16-fp16-cfg0]) or node ids")
    p.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="results file (default %(default)s: the latest full run)",
    )
    p.add_argument(
        "--kernels",
        type=Path,
        action="append",
        default=[],
        help="kernel files or directories to load the case's kernel from (default: the project's "
        "kcheck_kernel_paths, else kernels/; never a path named in the results file)",
    )
    p.add_argument(
        "--max-probes",
        type=int,
        default=minimize.DEFAULT_MAX_PROBES,
        help="most probes per case (default %(default)s)",
    )
    p.add_argument(
        "--match",
        choices=minimize.MATCHES,
        default="signature",
        help="a probe fails when it fails with the same category and signature (default), only "
        "the same category, or with any failure",
    )
    p.add_argument(
        "--run-timeout", type=float, default=300.0, help="seconds one probe may take (default %(default)s)"
    )
    p.add_argument("--no-write", action="store_true", help="do not store the result in the results file")
    p.set_defaults(handler=run)


def _say(text: str, env: Mapping[str, str] = os.environ) -> None:
    print(for_log(text, env), flush=True)


#: Exit status when every case was searched and none was flaky.
EXIT_OK = 0
#: Exit status when a search ended ``flaky`` (probes of one config disagreed; no minimal config).
EXIT_FLAKY = 1
#: Exit status when a case cannot be searched (named on stderr); wins over ``EXIT_FLAKY``.
EXIT_USAGE = 2


def run(args: argparse.Namespace) -> int:
    """``kcheck minimize``: 0 when every case was searched, 1 when a search ended flaky, 2 when
    a case cannot be searched (named)."""
    if args.max_probes < 2:
        print("kcheck minimize: --max-probes must be >= 2", file=sys.stderr)
        return EXIT_USAGE
    try:
        scratch = rundir.create()
    except OSError as exc:
        print(for_log(f"kcheck minimize: cannot create a scratch directory: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    finally:
        # After every case's worker is gone (minimize_record closes its runner): the generated
        # modules and locks of this command's probes, kept nowhere else.
        rundir.remove(scratch)


def _run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    runs.announce("minimize", args.results)
    for case_id in args.cases:
        try:
            # Read for each case: the previous case's search rewrote the file.
            records = read_results(args.results, case_id)
            record = find_in(records, case_id, args.results)
            result = minimize_record(record, records, args)
        except (ReproError, MinimizeError) as exc:
            print(for_log(f"kcheck minimize: {exc}"), file=sys.stderr)
            status = EXIT_USAGE
            continue
        _say(f"{record.case.name}: {result.summary()}")
        if result.outcome in (minimize.Outcome.MINIMAL, minimize.Outcome.BUDGET):
            _say(f"  minimal failing config: {result.config}")
        if result.outcome is minimize.Outcome.FLAKY:
            _say("  repeated probes: " + "; ".join(str(c) for c in result.checks))
            status = max(status, EXIT_FLAKY)
        if not args.no_write:
            store(args.results, record, result)
    return status


def _reference(record: Record, records: list[Record]) -> tuple[dict[str, Any] | None, str]:
    """A passing config of the record's kernel, shape and dtype, and its description; None when
    the run has none (then Helion's default config is probed)."""
    assert isinstance(record.config, dict)
    same = [
        r
        for r in records
        if (r.case.kernel, r.case.shape, r.case.dtype)
        == (record.case.kernel, record.case.shape, record.case.dtype)
        and not r.failed
        and not (r.category.is_skip and r.fields.get("reason") != "no GPU")
        and isinstance(r.config, dict)
    ]
    for r in same:
        if r.case.config == "default":
            return r.config, f"the default config ({r.case.name} {minimize.describe(r)})"
    if same:
        config = record.config
        best = min(same, key=lambda r: len(minimize.knob_diff(config, r.config or {})))
        return best.config, f"the nearest passing config ({best.case.name} {minimize.describe(best)})"
    return None, "Helion's default config"


def minimize_record(record: Record, records: list[Record], args: argparse.Namespace) -> minimize.Minimal:
    """Search the minimal failing config of ``record`` (options as ``kcheck minimize`` takes);
    ``records`` are the run's, where a passing reference config is looked for.

    Raises:
        MinimizeError: the record passed, has no config, or needs a GPU this machine lacks.
        ReproError: its kernel file cannot be found or loaded.
    """
    import importlib

    from checker import targets
    from checker.run_options import RunOptions
    from checker.spec import DEFAULT

    name = record.case.name
    if not record.failed or not record.category.is_failure:
        raise MinimizeError(f"{name} did not fail ({record.category.value}): nothing to minimize")
    if not isinstance(record.config, dict):
        raise MinimizeError(f"{name}: its record has no config (it failed before one was chosen)")
    local = targets.local_cuda_target()
    if record.mode is Mode.NATIVE and local is None:
        raise MinimizeError(f"{name} failed on a GPU ({record.target}); minimize it on a machine with one")
    if local is not None and record.mode is Mode.NATIVE and local.name != record.target:
        _say(f"warning: {name} was recorded on {record.target}, probing on {local.name}")
    # Only from --kernels or the project's kernel paths: a record names a file, never which to load.
    kernel_file = kernel_file_for(record, args.kernels)
    spec_of(kernel_file, record)  # a clear error here, not in every probe's worker
    values = recorded_options(record)
    try:
        target = local or targets.get_target(record.target)
    except KeyError as exc:
        raise MinimizeError(f"{name}: its record's target cannot be read: {exc}") from exc
    # Probes compile for real, like the record's repro command: no cache.
    opts = RunOptions.of(values, target, native=local is not None, cache_dir=None)
    # The probes run in the case worker, which sets itself up for CPU or GPU (exec_worker._setup).
    # As sys.modules holds it now (an in-process pytest run may have replaced it): its job
    # classes must pickle as the worker will import them.
    exec_worker = importlib.import_module("checker.exec_worker")
    runner = exec_worker.CaseRunner(opts, args.run_timeout)
    probe_case = dataclasses.replace(record.case, config=f"{record.case.config}-probe")

    def probe(config: Any) -> Record:
        return runner.check(str(kernel_file), record.case.kernel, probe_case, config)

    try:
        reference, described = _reference(record, records)
        if reference is None:
            default = probe(DEFAULT)
            if not isinstance(default.config, dict):
                raise MinimizeError(
                    f"{name}: Helion's default config could not be made: {default.message[:300]}"
                )
            reference = default.config
        with _Progress(name, args.max_probes + 3 * minimize.REPEATS) as progress:
            return minimize.minimize(
                record,
                reference,
                probe,
                reference_name=described,
                match=args.match,
                max_probes=args.max_probes,
                on_probe=progress.update,
            )
    finally:
        runner.close()


class _Progress:
    """A rich progress bar over the probe budget on a terminal; one line per probe in a log."""

    def __init__(self, name: str, total: int) -> None:
        self._name = name
        self._total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("minimize"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}")
            )
            self._task = self._bar.add_task("", total=self._total)
            self._bar.start()
        return self

    def update(self, p: minimize.Probe, n: int) -> None:
        knobs = ", ".join(f"{k.name}={k.value!r}" for k in p.knobs) or "(reference config)"
        why = "" if p.phase == "search" else f" ({p.phase})"
        line = f"probe {n}: {p.outcome or p.category.value} with {knobs}{why}"
        if self._bar is not None:
            self._bar.update(self._task, completed=n, description=line[:60])
        else:
            _say(f"  {self._name} {line}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def store(results: Path, record: Record, result: minimize.Minimal) -> None:
    """Replace ``record`` in ``results`` by a copy carrying ``result.fields()`` (atomically; every
    other line is kept byte for byte). ``results`` may be a link (``reports/results.jsonl``):
    the run's file it names is rewritten. In a reports directory of runs the result is also
    stored beside them, for later runs' records of the same failure
    (checker/results/carried.py)."""
    target = record.to_json()
    updated_record = dataclasses.replace(record, fields={**record.fields, **result.fields()})
    updated = updated_record.to_json()
    root = runs.root_of(Path(results))
    results = Path(results).resolve()
    lines = results.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for line in lines:
        stripped = line.rstrip("\n")
        if stripped and _same_record(stripped, target):
            out.append(updated + "\n")
        else:
            out.append(line)
    write_atomic(results, "".join(out).encode("utf-8"))
    if root is not None and updated_record.fields.get("minimal_config"):
        carried.store(root, updated_record)


def _same_record(line: str, target: str) -> bool:
    try:
        return Record.from_json(line).to_json() == target
    except ValueError:
        return False
