"""The controlling process's recorder: turns each item's report into its record, writes
results.jsonl as records arrive, announces each record to the other kcheck plugins (the
``pytest_kcheck_record`` hook, checker/hookspecs.py), gives a crashed xdist worker's case its
``worker-died`` record, adds ``lost`` records at the end, writes junit.xml and the terminal
summary. Only the controlling process writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checker import diagnostics
from checker.categories import EXIT_CHECKER_ERROR, Category, Owner
from checker.model import Record
from checker.rerun import rerun_of
from checker.session import RECORD_KEY, STALE_OUTPUTS, State


class Recorder:
    """Per-config listener (registered in pytest_configure) that turns reports into records and
    hands them to the writers. Only the controlling process writes."""

    def __init__(self, state: State, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    def _keep(self, rec: Record) -> None:
        """Keep ``rec`` (with a minimal config an earlier ``kcheck minimize`` found for its
        failure, checker/results/carried.py): in the run's records, in results.jsonl, and told
        to the other plugins."""
        from checker.results import carried

        rec = carried.carry(rec, self.state.carried)
        self.state.records.append(rec)
        self._writer().write(rec)
        self.config.hook.pytest_kcheck_record(record=rec, config=self.config)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collected([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._collected(ids)

    def _collected(self, nodeids: list[str]) -> None:
        """Before any case runs: start this run's own directory (checker/results/runs.py: a
        full run becomes ``latest``, and earlier outputs at the root that described the old
        latest run go) and write what this run collected (checker/collected.py), once (every
        xdist worker collects the same items)."""
        from checker import collected

        state = self.state
        if (
            state.collect_only
            or state.collected is not None
            or not any(collected.case_of(n) for n in nodeids)
        ):
            return  # a run that checks no kernel case leaves old results alone
        run = self._start(nodeids)
        state.collected = collected.write(run.path, nodeids)
        self._writer()

    def _start(self, nodeids: list[str]) -> Any:
        """Start this run's directory (see :meth:`_collected`) and read the results earlier
        commands stored for later runs to carry; returns the ``runs.Run``."""
        from checker.results import carried, runs

        state = self.state
        run = runs.start(state.reports_dir, nodeids, state.keep_runs)
        if run.full:
            for stale in STALE_OUTPUTS:
                path = state.reports_dir / stale
                if not path.is_symlink():
                    path.unlink(missing_ok=True)
        state.run = run
        state.carried = carried.load(state.reports_dir)
        return run

    def _out(self) -> Path:
        """This run's own directory, started here (as not full) when a record arrives before
        collection started it."""
        run = self.state.run if self.state.run is not None else self._start([])
        return Path(run.path)

    def _writer(self) -> Any:
        if self.state.writer is None:
            from checker.results.jsonl import JsonlWriter

            self.state.writer = JsonlWriter(self._out() / "results.jsonl")
        return self.state.writer

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        rec = _record_of(report, state)
        if rec is None:
            return
        if rec.nodeid in state.seen_nodeids:
            # A second record for one case (its teardown failed after the call passed): a
            # failure replaces what was recorded, never the reverse, and nothing goes silently.
            first = next(r for r in state.records if r.nodeid == rec.nodeid)
            state.duplicates.append(rec.nodeid or "")
            if not rec.failed or first.failed:
                return
            state.records.remove(first)
        state.seen_nodeids.add(rec.nodeid or "")
        self._keep(rec)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A crashed xdist worker: the case it was running gets a ``worker-died`` record with the
        worker's signal or exit status (xdist's report carries only "crashed while running")."""
        from checker.collected import execution_case

        case = execution_case(crashitem)
        if case is None:
            return
        signal_name, status = _exit_of(getattr(report, "node", None))
        how = f"signal {signal_name}" if signal_name else f"exit status {status}"
        name = crashitem.rsplit("::", 1)[-1]
        from checker.execute import unconfigured_record

        rec = unconfigured_record(
            case,
            Category.WORKER_DIED,
            self.state.options,
            f"pytest-xdist worker crashed ({how}) while running {crashitem}",
            f"xdist worker died {signal_name or status}",
            duration_s=0.0,
            fields={"signal": signal_name, "exit_status": status, "worker_recycled": True},
            nodeid=crashitem,
            **rerun_of(self.state.rerun, self.state.rootpath / report.location[0], name),
        )
        report.user_properties.append((RECORD_KEY, rec.to_json()))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if state.collected:
            from checker import collected

            lost = collected.lost_records(state.collected, state.records, state.options.target.name)
            for rec in lost:
                self._keep(rec)
            if lost and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if any(r.category.traits.owner is Owner.CHECKER for r in state.records):
            # Its own status (3, pytest's INTERNAL_ERROR): a kcheck bug, whatever the kernels did.
            session.exitstatus = EXIT_CHECKER_ERROR
        if not state.records:
            return
        from checker.report import junit

        junit.write(self.state.records, self._out() / "junit.xml")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        state = self.state
        keyword = terminalreporter.config.getoption("keyword")
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and keyword:
            terminalreporter.write_line(_nothing_selected(state, keyword), yellow=True)
        if not state.records:
            return
        from checker.report.terminal import render

        tw = terminalreporter._tw
        terminalreporter.write_sep("=", "kcheck")
        terminalreporter.write(render(state.records, width=max(80, tw.fullwidth), color=tw.hasmarkup))
        out = self._out()
        which = f"  ({state.run.describe()})" if state.run is not None else ""
        terminalreporter.write_line(f"records: {out / 'results.jsonl'}  junit: {out / 'junit.xml'}{which}")


def _exit_of(node: Any) -> tuple[str | None, int | None]:
    """(signal name, exit status) of a crashed xdist worker's process, from execnet's Popen."""
    import signal

    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    if popen is None:
        return None, None
    try:
        status = popen.wait(timeout=5)
    except Exception:
        return None, None
    if status < 0:
        return signal.Signals(-status).name, None
    return None, status


def _nothing_selected(state: State, keyword: str) -> str:
    """What to tell a user whose ``-k`` selected no case: the kernel names there are."""
    names = sorted(state.spec_names)
    if not names:
        # Under xdist the workers collected, not this process.
        from checker import loader

        try:
            names = sorted({s.name for s in loader.specs_in([p for p in state.kernel_dirs if p.exists()])})
        except Exception as exc:
            return f"kcheck: -k {keyword!r} selects no case (kernel names unavailable: {exc})"
    shown = ", ".join(names) if names else "none"
    return (
        f"kcheck: -k {keyword!r} selects no case; kernels: {shown} "
        "(case ids read kernel[shape-dtype-config], e.g. rms_norm[2048x4096-bf16-cfg3])"
    )


def _record_of(report: pytest.TestReport, state: State) -> Record | None:
    for key, value in report.user_properties:
        if key == RECORD_KEY:
            return Record.from_json(str(value))
    if not report.failed:
        return None
    # No record: the case died before writing one (worker crash, pytest-timeout, setup error).
    from checker.collected import execution_case

    case = execution_case(report.nodeid)
    if case is None:
        return None
    name = report.nodeid.rsplit("::", 1)[-1]
    text = str(report.longrepr or "")
    if report.when == "???":
        category = Category.WORKER_DIED  # a crash pytest_handlecrashitem could not attribute
    elif "Timeout" in text:
        category = Category.RUN_TIMEOUT
    else:
        category = Category.RUNTIME_ERROR
    last_line = diagnostics.sanitize(text.strip().splitlines()[-1] if text.strip() else report.outcome)
    from checker.execute import unconfigured_record

    return unconfigured_record(
        case,
        category,
        state.options,
        text,
        last_line,
        duration_s=round(report.duration, 4),
        nodeid=report.nodeid,
        **rerun_of(state.rerun, state.rootpath / report.location[0], name),
    )
