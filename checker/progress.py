"""Progress of a long sweep: cases done of collected, failures so far, the current kernel and an
ETA (docs/triage.md#the-terminal-during-and-after-a-run).

On a terminal under ``-q`` (``kcheck run``): a rich progress bar (pytest's per-case letters are
left out while it shows, or the two would overwrite each other). Elsewhere (a CI log, no TTY;
plain ``pytest`` at its default verbosity, which writes each module's path and percentage where
the bar would be; ``-v``): one status line at most every :data:`LOG_INTERVAL_S` seconds, on a
line of its own through pytest's terminal writer, and one at the end. It runs on the controlling process
only: under xdist, workers' reports arrive there through ``pytest_runtest_logreport`` and the
collected count through ``pytest_xdist_node_collection_finished``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import pytest

from checker.collected import case_of
from checker.escape import for_log

#: Least seconds between two status lines in a log.
LOG_INTERVAL_S = 30.0
#: Least seconds between two redraws of the bar (a fast sweep reports hundreds of cases a second).
BAR_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Snapshot:
    """Where a sweep stands: cases done of ``total``, failed so far, seconds since the first
    case began, and the kernel of the case that started or finished last."""

    done: int
    total: int
    failed: int
    elapsed_s: float
    kernel: str

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None before the first case finished."""
        if self.done == 0 or self.total <= self.done:
            return None if self.done == 0 else 0.0
        return self.elapsed_s / self.done * (self.total - self.done)

    def line(self) -> str:
        """``kcheck: 120/1108 cases (10%), 3 failed, elapsed 2m05s, ETA 18m30s; now: attention``."""
        pct = f" ({100 * self.done // self.total}%)" if self.total else ""
        eta = self.eta_s
        text = (
            f"kcheck: {self.done}/{self.total or '?'} cases{pct}, {self.failed} failed, "
            f"elapsed {_duration(self.elapsed_s)}, ETA {_duration(eta) if eta is not None else '?'}"
        )
        return text + (f"; now: {self.kernel}" if self.kernel else "")


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def ours(nodeid: str) -> bool:
    """Whether ``nodeid`` is a kcheck case (an execution, golden or collection item): other
    tests in the same session (a project's own unit tests) are not part of the sweep."""
    return case_of(nodeid) is not None


def kernel_of(nodeid: str) -> str:
    """The kernel a node id names: ``kernels/attention.py::causal_attention[2x1x33x16-...]`` ->
    ``causal_attention``."""
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


class Progress:
    """A pytest plugin that reports progress (see the module docstring). ``tty`` chooses the
    bar; ``write`` receives the log lines (default: pytest's terminal, else stderr)."""

    def __init__(
        self,
        *,
        tty: bool | Callable[[], bool],
        write: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = LOG_INTERVAL_S,
        stream: TextIO | None = None,
    ) -> None:
        # Decided when collection ends: pytest's terminal may not exist yet at registration.
        self._tty = tty
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._clock = clock
        self._interval = interval_s
        self._stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self._failed: set[str] = set()
        self.kernel = ""
        self._start: float | None = None
        self._last_line: float | None = None
        self._last_draw = 0.0
        self._bar: Any = None
        self._task: Any = None

    @property
    def failed(self) -> int:
        """Cases that failed so far (a case whose call and teardown failed counts once)."""
        return len(self._failed)

    @property
    def tty(self) -> bool:
        """Whether the bar is used (else log lines)."""
        return self._tty() if callable(self._tty) else self._tty

    def snapshot(self) -> Snapshot:
        """The sweep's state now."""
        elapsed = self._clock() - self._start if self._start is not None else 0.0
        return Snapshot(self.done, self.total, self.failed, elapsed, self.kernel)

    # --- hooks ----------------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Without xdist: the items this process will run."""
        total = sum(1 for item in session.items if ours(item.nodeid))
        if total:
            self._collected(total)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Under xdist every worker collects the same items: the first count is the total."""
        if not self.total:
            self._collected(sum(1 for nodeid in ids if ours(nodeid)))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        """A case began (under xdist, as a worker announces it): it becomes the current one."""
        if not ours(nodeid):
            return
        self._begin()
        self.kernel = kernel_of(nodeid)
        self._update(force=False)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A phase of a case ended; a case is done after its call, or after a setup that failed
        or skipped (no call follows), or when xdist reports its worker crashed (``???``)."""
        if not ours(report.nodeid):
            return
        self._begin()
        finished = (
            report.when == "call" or report.when == "???" or (report.when == "setup" and not report.passed)
        )
        if report.failed:
            self._failed.add(report.nodeid)
        if finished:
            self.done += 1
            self.kernel = kernel_of(report.nodeid)
            self._update(force=False)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        """With the bar, pytest's per-case letter is dropped (its category, which counts the
        outcome, is kept): letters written under a live bar garble both."""
        outcome = yield
        if self._bar is not None:
            result = outcome.get_result()
            if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], str):
                outcome.force_result((result[0], "", result[2]))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before pytest's summary: stop the bar, or write the last status line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._start is not None:
            self._write(for_log(self.snapshot().line()))

    # --- output ---------------------------------------------------------------------------

    def _collected(self, total: int) -> None:
        self.total = total
        if self.tty and self._bar is None and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("kcheck"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[kernel]}", markup=False),
                console=Console(file=self._stream),
                transient=True,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._bar.add_task("sweep", total=total, failed=0, kernel="")
            self._bar.start()

    def _begin(self) -> None:
        if self._start is None:
            self._start = self._clock()
            self._last_line = self._start

    def _update(self, force: bool) -> None:
        now = self._clock()
        if self._bar is not None:
            if force or now - self._last_draw >= BAR_INTERVAL_S or self.done == self.total:
                self._last_draw = now
                self._bar.update(self._task, completed=self.done, failed=self.failed, kernel=self.kernel)
                self._bar.refresh()
            return
        if self._last_line is not None and (force or now - self._last_line >= self._interval):
            self._last_line = now
            self._write(for_log(self.snapshot().line()))


def register(config: pytest.Config) -> None:
    """Register :class:`Progress` on the controlling process (not on xdist workers, not for
    ``--collect-only``); it writes through pytest's terminal (nothing without one). The bar
    needs a TTY and ``-q`` (as ``kcheck run`` passes); plain ``pytest`` gets status lines."""
    if hasattr(config, "workerinput") or config.option.collectonly:
        return

    def terminal() -> Any:
        # Looked up when used: kcheck's pytest_configure may run before the terminal's.
        return config.pluginmanager.get_plugin("terminalreporter")

    def tty() -> bool:
        # The bar only where pytest's own per-file output is off: -q (kcheck run passes it).
        # At pytest's default verbosity each module's path and its [ NN%] are written on the
        # line the bar redraws, and the two overwrote each other; there the status lines go
        # through pytest's terminal writer, each on a line of its own.
        return bool(getattr(terminal(), "isatty", False)) and config.get_verbosity() < 0

    def write(line: str) -> None:
        reporter = terminal()
        if reporter is not None:
            # pytest's progress letters leave their line open; a status line starts its own.
            if getattr(reporter._tw, "width_of_current_line", 0):
                reporter._tw.line()
            reporter.write_line(line)

    config.pluginmanager.register(Progress(tty=tty, write=write), "kcheck-progress")
