"""The state one pytest session of kcheck shares between its hooks, its items and its recorder.

``STATE`` holds a :class:`State` in ``config.stash`` from ``pytest_configure`` (checker/plugin.py)
to the end of the session: the resolved run options, where records go, what was collected and
the records the controlling process received. ``RECORD_KEY`` names the user property a case's
record travels under from the process that ran it (an xdist worker) to the controller.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

import pytest

from checker import options
from checker.model import Record
from checker.options import Values

RECORD_KEY = "kcheck_record"
#: Outputs at the reports directory's root that a new full run removes before its first case
#: (unless they are links into ``latest``, checker/results/runs.py), so that none of them
#: describes the old run beside the new run's results (kcheck report writes summary.md,
#: verdict.json, baseline.jsonl, triage.md and the speedup table and plots; timings.jsonl is
#: ``kcheck bench``'s default output: docs/perf.md).
STALE_OUTPUTS = (
    *("results.jsonl", "junit.xml", "summary.md", "verdict.json", "baseline.jsonl", "triage.md"),
    *("speedup.md", "speedup.png", "roofline.png", "timings.jsonl"),
)


@dataclasses.dataclass
class State:
    """One kcheck pytest session (see the module docstring); every process has its own."""

    options: Any  # run_options.RunOptions; imported lazily so `pytest --help` stays fast
    reports_dir: Path
    #: The options a repro command re-runs a case with, apart from the case's own kernel file
    #: and reports directory (:func:`checker.rerun.rerun_of`).
    rerun: Values
    rootpath: Path
    is_controller: bool
    #: Kernel files and directories (resolved) whose modules are collected as kernel modules.
    kernel_dirs: list[Path]
    writer: Any = None
    records: list[Record] = dataclasses.field(default_factory=list)
    seen_nodeids: set[str] = dataclasses.field(default_factory=set)
    spec_names: dict[str, Path] = dataclasses.field(default_factory=dict)
    saved_interpret: str | None = None
    isolate: bool = False
    #: ``--collect-only``: nothing runs, so nothing is written and nothing is lost.
    collect_only: bool = False
    #: kcheck node ids this run collected (None until collection finished).
    collected: list[str] | None = None
    #: node ids that reported a second record.
    duplicates: list[str] = dataclasses.field(default_factory=list)
    #: The run's scratch directory (checker.rundir), created and removed by the controller.
    run_dir: Any = None
    #: Run directories kept under ``reports_dir`` (``--keep-runs``).
    keep_runs: int = options.option("keep_runs").default
    #: This run's own directory under ``reports_dir`` (checker.results.runs.Run), started by
    #: the controller's recorder when collection finished; None before, and in workers.
    run: Any = None
    #: Fields earlier commands stored for later runs' records (checker/results/carried.py).
    carried: dict[Any, Any] = dataclasses.field(default_factory=dict)


STATE = pytest.StashKey[State]()


def fresh(name: str) -> Any:
    """The module ``name`` as ``sys.modules`` holds it now. ``from checker import x`` may return
    an older module object (kept as an attribute of the package) after an in-process pytester run
    restored ``sys.modules``; its job classes then fail to pickle for a worker ("not the same
    object")."""
    return importlib.import_module(name)
