"""Known failures for ``kcheck run`` and plain pytest: the ``kcheck_baseline`` ini option.

The ini option names a committed known-failures file (checker/results/known.py; a path relative
to the ini file; default none). With one, the run's exit status means "nothing new failed" (0)
or "something new failed" (1): every failing case the file lists with the same category is
pre-existing, and only those are forgiven. A new failure, a failure whose category changed, a
lost case, a golden failure the file does not list, or any failing pytest item that is not a
kcheck case keeps status 1; a ``checker-error`` keeps 3 (checker/recorder.py). Records,
results.jsonl and junit.xml are not touched: a pre-existing failure is still a failure there.
The terminal gets one section: how many failures were pre-existing, and the new ones.

``--update-baseline`` (checker/options.py) rewrites the file from the run's records
(:func:`checker.results.known.update`) before the exit status is decided against it.

A missing or unreadable file is a usage error (pytest's status 4) naming it, before any case
runs; ``-o kcheck_baseline=`` turns the comparison off for one run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checker.session import STATE

INI = "kcheck_baseline"
#: New failures listed by name in the terminal; the rest are counted.
MAX_LISTED = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI,
        default="",
        help="known-failures file (results.jsonl format), relative to the ini file: failures it "
        "lists with the same category are pre-existing and do not fail the run; "
        "--update-baseline writes it (default: none)",
    )


@dataclass
class _Known:
    """The controller's view of the known failures during one session."""

    path: Path
    #: checker.results.merge.MergedRun of the entries (None: the file does not exist yet).
    known: Any
    update: bool
    #: Failed pytest reports of items that are not kcheck cases: never forgiven.
    other_failures: int = 0
    #: Items were deselected (-k, -m, --shard...): the run did not cover its files in full.
    deselected: bool = False
    #: checker.results.known.Update once written.
    updated: Any = None
    write_error: str | None = None


KNOWN = pytest.StashKey[_Known]()


def baseline_path(config: pytest.Config) -> Path | None:
    """The known-failures file the ini names, absolute (relative to the ini file), or None."""
    value = str(config.getini(INI)).strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / value).resolve()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or config.option.collectonly:
        return  # the controller decides; a collect-only run decides nothing
    update = bool(config.getoption("update_baseline"))
    path = baseline_path(config)
    where = f"{INI} (in {config.inipath})" if config.inipath is not None else INI
    if path is None:
        if update:
            raise pytest.UsageError(
                f"--update-baseline: no known-failures file is configured; set {INI} in the ini "
                'file (e.g. [tool.pytest.ini_options] kcheck_baseline = "kcheck-baseline.jsonl")'
            )
        return
    from checker.results import known

    entries = None
    if not (update and not path.exists()):  # --update-baseline creates a missing file
        try:
            entries = known.read(path)
        except ValueError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
    if update:
        existing = next(p for p in path.parents if p.exists())  # the file's directory, or its parent
        if not os.access(existing, os.W_OK | os.X_OK):
            raise pytest.UsageError(f"--update-baseline: {existing} is not writable, so {path} cannot be")
    state = _Known(path=path, known=entries, update=update)
    config.stash[KNOWN] = state
    config.pluginmanager.register(_Controller(state, config), "kcheck-baseline-controller")


class _Controller:
    """Listens in the controlling process: which failures are not kcheck cases, the exit
    status, the update and the terminal section."""

    def __init__(self, state: _Known, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if items:
            self.state.deselected = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from checker.collected import case_of

        if report.failed and case_of(report.nodeid) is None:
            self.state.other_failures += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Any:
        # Before every other plugin's sessionfinish: the golden plugin (unused files) and the
        # recorder (lost cases, checker-error: 3) then raise the status for their own reasons,
        # which the baseline never forgives.
        self._decide(session)
        return (yield)

    def _decide(self, session: pytest.Session) -> None:
        from checker.results import known
        from checker.results.baseline import exit_code

        state = self.state
        records = self.config.stash[STATE].records
        ended = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        if state.update and records and ended:
            update = known.update(state.known, records, self._gone())
            try:
                known.write(state.path, update.entries)
            except OSError as exc:
                state.write_error = f"cannot write {state.path}: {exc.strerror or exc}"
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
                return
            state.updated = update
            state.known = known.of_run(update.entries)
        if session.exitstatus != pytest.ExitCode.TESTS_FAILED or state.other_failures or state.known is None:
            return
        if exit_code(known.compare(records, state.known)) == 0:
            session.exitstatus = pytest.ExitCode.OK

    def _gone(self) -> Callable[[str], bool]:
        """Whether an entry's case, which this run did not check, no longer exists: its kernel
        file was deleted from this run's kernel paths, or this run collected that file in full
        (nothing deselected or named by node id) without the case."""
        config, run = self.config, self.config.stash[STATE]
        collected = set(run.collected or ())
        narrowed = (
            self.state.deselected
            or bool(config.getoption("keyword"))
            or bool(config.getoption("markexpr"))
            or bool(config.getoption("shard", None))
            or bool(config.getoption("deselect", None))
            or bool(config.getoption("lf", False))
            or any("::" in a for a in config.args)
        )
        here = config.invocation_params.dir
        args = [(here / a.split("::", 1)[0]).resolve() for a in config.args]

        def inside(path: Path, roots: list[Path]) -> bool:
            return any(path == r or path.is_relative_to(r) for r in roots)

        def gone(key: str) -> bool:
            if "::" not in key:
                return False
            file = (config.rootpath / key.split("::", 1)[0]).resolve()
            if not inside(file, run.kernel_dirs):
                return False
            if not file.exists():
                return True
            return not narrowed and inside(file, args) and key not in collected

        return gone

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        # After kcheck's own section (checker/recorder.py): the verdict is read last.
        state = self.state
        records = self.config.stash[STATE].records
        if not records:
            return
        # The status as the session ends: the hook's argument is the one from before the
        # plugins' sessionfinish (this one's, the recorder's) changed it.
        final = self.session.exitstatus if self.session is not None else exitstatus
        terminalreporter.write_sep("-", f"kcheck baseline ({_shown(state.path, self.config)})")
        for line in summary_lines(state, records, int(final)):
            terminalreporter.write_line(line)


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


def summary_lines(state: _Known, records: list[Any], exitstatus: int) -> list[str]:
    """The terminal section: the update (with ``--update-baseline``), then how many failures
    are new and pre-existing with the run's exit status, then the new ones by name."""
    from checker.results import known
    from checker.results.baseline import Status

    lines = []
    if state.write_error:
        lines.append(f"--update-baseline: {state.write_error}")
    up = state.updated
    if up is not None:
        lines.append(
            f"updated: {len(up.added)} added, {len(up.removed)} removed, {len(up.changed)} changed "
            f"(category), {up.kept_unrun} kept (cases this run did not check); {len(up.entries)} entries"
        )
    if state.known is None:
        return lines
    result = known.compare(records, state.known)
    new = result.of(Status.NEW) + result.of(Status.GOLDEN)
    pre = result.of(Status.PRE_EXISTING)
    meaning = {0: "nothing new failed", 1: "something new failed", 3: "a bug in kcheck"}.get(exitstatus, "")
    lines.append(
        f"{len(new)} new failure(s), {len(pre)} pre-existing (listed with the same category); "
        f"exit {exitstatus}: {meaning}"
    )
    for case in new[:MAX_LISTED]:
        before = case.base_category
        was = f"listed as {before.value}" if before is not None else "not listed"
        lines.append(f"  new: {case.key} {case.record.category.value} ({was})")
    if len(new) > MAX_LISTED:
        lines.append(f"  ... and {len(new) - MAX_LISTED} more new")
    return lines
