"""Where a run's records live: each run's own directory under the reports directory, and the
links that name the latest ones (docs/reports.md#runs-kept).

Layout of a reports directory (``--reports-dir``, default ``reports/``)::

    reports/runs/<id>/results.jsonl, junit.xml, collected.json   one directory per run
    reports/latest -> runs/<id>      the latest FULL run (see below)
    reports/last   -> runs/<id>      the latest run of any kind
    reports/results.jsonl -> latest/results.jsonl   (also junit.xml, collected.json)
    reports/minimal.jsonl            minimal configs kcheck minimize found (checker/results/carried.py)

A run id is the UTC start time to the microsecond and 6 random hex digits,
``20261206T185821.042117Z-3fa9c2``: ids sort
as the runs started. A FULL run selected at least one item that is not a golden check (a
kernel case, or a module that failed to import); a golden-only run (``-k golden``, blessing
with ``--update-golden``) gets its own directory and moves ``last``, never ``latest`` nor the
root links (which name ``last`` only until the first full run); a run that selects no kcheck
item writes nothing. So every reader that opens
``reports/results.jsonl`` (kcheck triage, report, minimize, repro, bench, CI scripts) reads the
latest full run, and a golden-only run never replaces it. Links are replaced atomically
(checker/atomic.py). At most ``--keep-runs`` run directories are kept; the oldest go first, and
the one ``latest`` names never.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from checker import collected, options
from checker.atomic import replace_symlink
from checker.escape import for_log
from checker.model import Mode

#: The reports directory when none is named (``--reports-dir``'s default).
DEFAULT_ROOT = Path("reports")
#: The directory under the reports directory holding one directory per run.
RUNS = "runs"
#: Link to the latest full run.
LATEST = "latest"
#: Link to the latest run of any kind.
LAST = "last"
#: A run's records.
RESULTS = "results.jsonl"
#: Files of a run that the reports directory's root links to, in ``latest``.
LINKED = (RESULTS, "junit.xml", collected.FILENAME)
#: Run directories kept when ``--keep-runs`` is not given (its default, checker/options.py).
DEFAULT_KEEP: int = options.option("keep_runs").default


def new_id(now: float | None = None) -> str:
    """A run id: UTC time of ``now`` (seconds since the epoch; default: now) to the microsecond,
    then 6 random hex digits, e.g. ``20261206T185821.042117Z-3fa9c2``. Ids sort as their times
    (to the second only, two runs of one second sorted by their random digits and retention
    removed the newer one)."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    micros = min(int((now % 1) * 1_000_000), 999_999)
    return f"{stamp}.{micros:06d}Z-{secrets.token_hex(3)}"


def is_full(nodeids: Iterable[str]) -> bool:
    """Whether a run of these node ids is a full run: at least one kcheck item that is not a
    golden check (a case, or a collection error)."""
    return any((found := collected.case_of(n)) is not None and found[1] is not Mode.GOLDEN for n in nodeids)


@dataclass(frozen=True)
class Run:
    """One run's directory: ``root/runs/<id>``; ``full`` as :func:`is_full` decided."""

    root: Path
    id: str
    full: bool

    @property
    def path(self) -> Path:
        """The run's own directory."""
        return self.root / RUNS / self.id

    def describe(self) -> str:
        """A few words on whether this run became the latest full run."""
        if self.full:
            return f"now {self.root / LATEST}"
        kept = latest_id(self.root)
        still = f"still {kept}" if kept else "no full run yet"
        return f"golden checks only: {self.root / LATEST} unchanged, {still}"


def start(root: Path, nodeids: Iterable[str], keep: int = DEFAULT_KEEP) -> Run:
    """Create a new run's directory under ``root``; point ``last`` at it, and for a full run
    ``latest`` and the root links too; then keep at most ``keep`` run directories (:func:`prune`).

    Raises:
        OSError: ``root`` is not writable.
    """
    run = Run(root, new_id(), is_full(nodeids))
    for _ in range(100):
        try:
            run.path.mkdir(parents=True)
            break
        except FileExistsError:
            run = Run(root, new_id(), run.full)  # two runs started in one second drew one id
    replace_symlink(root / LAST, f"{RUNS}/{run.id}")
    if run.full:
        replace_symlink(root / LATEST, f"{RUNS}/{run.id}")
    # Until the first full run, the root links name the last run: a reports directory of
    # golden-only runs still has results.jsonl where every reader looks.
    via = LATEST if run.full or os.path.lexists(root / LATEST) else LAST
    for name in LINKED:
        link = root / name
        if not (link.is_symlink() and os.readlink(link) == f"{via}/{name}"):
            replace_symlink(link, f"{via}/{name}")
    prune(root, keep, current=run.id)
    return run


def latest_id(root: Path) -> str | None:
    """The id of the run ``root/latest`` names, None when there is none."""
    try:
        return Path(os.readlink(root / LATEST)).name
    except OSError:
        return None


def run_ids(root: Path) -> list[str]:
    """The ids of the run directories under ``root``, oldest first."""
    try:
        return sorted(p.name for p in (root / RUNS).iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def prune(root: Path, keep: int, current: str | None = None) -> list[str]:
    """Remove the oldest run directories so that at most ``keep`` (at least 1) remain, never the
    one ``latest`` names nor ``current``; returns the ids removed."""
    protected = {latest_id(root), current}
    ids = run_ids(root)
    removable = [i for i in ids if i not in protected]
    excess = len(ids) - max(1, keep)
    removed = removable[: max(0, excess)]
    for run_id in removed:
        shutil.rmtree(root / RUNS / run_id, ignore_errors=True)
    return removed


def default_results(root: Path = DEFAULT_ROOT) -> Path:
    """The results file a command reads when none is named: ``root/results.jsonl``, the link
    into the latest full run."""
    return root / RESULTS


def root_of(results: Path) -> Path | None:
    """The reports directory a results file belongs to: for ``<root>/results.jsonl`` or
    ``<root>/runs/<id>/results.jsonl`` (also through ``latest``/``last``), ``<root>``; None for
    a file outside a reports directory of runs."""
    real = results.resolve()
    if real.parent.parent.name == RUNS:
        return real.parent.parent.parent
    if (results.parent / RUNS).is_dir():
        return results.parent
    return None


def describe(results: Path) -> str:
    """One line naming the run a results file holds: ``run <id> (<path>)``, else the path."""
    real = results.resolve()
    if real.parent.parent.name == RUNS:
        return f"run {real.parent.name} ({real.parent})"
    return str(results)


def announce(
    command: str, results: Path, env: Mapping[str, str] = os.environ, stream: TextIO | None = None
) -> None:
    """Print ``kcheck <command>: reads <run>`` (:func:`describe`) on stderr: every command that
    reads an earlier run names it, one way. The path is escaped (``checker.escape.for_log``): a
    run directory's name comes from whoever made it."""
    print(for_log(f"kcheck {command}: reads {describe(results)}", env), file=stream or sys.stderr)


def is_root(entries: Callable[[str], bool]) -> bool:
    """Whether a directory is a reports directory of runs, given whether it has an entry of a
    name (a file, directory or link): ``runs/`` beside ``last`` or ``results.jsonl``. A shard
    directory that happens to be named ``runs`` is not one."""
    return entries(RUNS) and (entries(LAST) or entries(RESULTS))


def in_history(parts: Sequence[str], is_reports_root: Callable[[tuple[str, ...]], bool]) -> bool:
    """Whether the file at relative path ``parts`` (below a directory or in a zip archive read
    as shards) lies in a reports directory's run history: under ``runs/``, ``latest`` or
    ``last`` of a directory that ``is_reports_root`` (given the directory's parts, see
    :func:`is_root`). Such a file is skipped: each reports directory counts once, through its
    root links, not once per kept run."""
    for i, part in enumerate(parts[:-1]):
        if part in (RUNS, LATEST, LAST) and is_reports_root(tuple(parts[:i])):
            return True
    return False
