"""A pytest plugin for benchmarks: when each process of a ``kcheck run`` reached each phase.

Loaded through ``PYTEST_PLUGINS=kcheck_timeline`` with this directory on ``PYTHONPATH`` (xdist
workers inherit both, so every process of the run loads it); ``KCHECK_TIMELINE`` names the file
each process appends its events to, one JSON object a line: ``{"role", "pid", "event", "t"}``,
``t`` in epoch seconds, ``role`` ``controller`` or the xdist worker's id (``gw3``). Nothing is
recorded without ``KCHECK_TIMELINE``. benchmarks/rerun.py ``--timeline`` sets all three and
summarises the file per pass (:func:`summarise`).

Events, in the order a process meets them:

  start            the process's start (from /proc: its age at the plugin's import, 10 ms steps)
  plugin           this module imported (pytest loads PYTEST_PLUGINS before the other plugins'
                   configure: start -> plugin is the interpreter, pytest and its entry points)
  configured       after every plugin's pytest_configure (kcheck's imports torch, starts the
                   fork servers in the controller, reads the GPU in every process)
  collected        collection finished (xdist workers; the controller collects nothing)
  first case       the first case starts (workers)
  first result     the first case's report reaches this process (the controller: the first result)
  last result      the last case's report (the controller: the run's last result)
  finish           pytest_sessionfinish starts (workers: after their last case)
  unconfigure      pytest_unconfigure starts (kcheck stops its case and compile workers there)
  exit             the interpreter's exit handlers run (after unconfigure; torch's teardown follows)
"""

from __future__ import annotations

import atexit
import json
import os
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

FILE_ENV = "KCHECK_TIMELINE"
_FILE = os.environ.get(FILE_ENV)
#: Known at configure (an xdist worker's config has ``workerinput``); events before it wait here.
#: Not $PYTEST_XDIST_WORKER: a controller started from inside an xdist worker inherits it.
_role: str | None = None
_early: list[tuple[str, float]] = []
_seen: set[str] = set()
_last_result: float | None = None


def environment(env: dict[str, str], path: Path) -> dict[str, str]:
    """``env`` with this plugin loaded by every pytest process started with it (this directory
    on ``PYTHONPATH``, the module in ``PYTEST_PLUGINS``), each writing its events to ``path``."""
    return {
        **env,
        FILE_ENV: str(path),
        "PYTEST_PLUGINS": ",".join(filter(None, (env.get("PYTEST_PLUGINS"), "kcheck_timeline"))),
        "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).parent), env.get("PYTHONPATH")))),
    }


def _write(event: str, t: float | None = None) -> None:
    if not _FILE:
        return
    at = t or time.time()
    if _role is None:
        _early.append((event, at))
        return
    line = json.dumps({"role": _role, "pid": os.getpid(), "event": event, "t": at})
    # O_APPEND: one line per write, whole, from any number of processes.
    fd = os.open(_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _once(event: str) -> None:
    if event not in _seen:
        _seen.add(event)
        _write(event)


def _process_start() -> float | None:
    """This process's start in epoch seconds (Linux: its start tick against the uptime), or None."""
    try:
        with open("/proc/self/stat") as f:
            after_name = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    # Field 22 of /proc/<pid>/stat (starttime, clock ticks since boot); after_name starts at field 3.
    age = uptime - int(after_name[19]) / os.sysconf("SC_CLK_TCK")
    return time.time() - age


if _FILE:
    _started = _process_start()
    if _started is not None:
        _write("start", _started)
    _write("plugin")
    atexit.register(lambda: _write("exit"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    global _role
    workerinput = getattr(config, "workerinput", None)
    _role = str(workerinput["workerid"]) if workerinput else "controller"
    for event, at in _early:
        _write(event, at)
    _early.clear()
    _write("configured")


def pytest_collection_finish(session: pytest.Session) -> None:
    _write("collected")


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    if _role != "controller":
        _once("first case")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _last_result
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _once("first result")
        _last_result = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _last_result is not None:
        _write("last result", _last_result)
    _write("finish")


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _write("unconfigure")


EVENTS = (
    "start",
    "plugin",
    "configured",
    "collected",
    "first case",
    "first result",
    "last result",
    "finish",
    "unconfigure",
    "exit",
)


def read(path: Path) -> list[dict[str, Any]]:
    """The events of one run's timeline file (lines that are not whole JSON objects skipped)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def summarise(events: Iterable[dict[str, Any]], started: float) -> list[tuple[str, str, float, float]]:
    """Rows ``(who, event, median s, max s)``, seconds since ``started`` (the command's start,
    epoch seconds): the controller's events, and each event over the xdist workers (the median
    and the slowest worker), in :data:`EVENTS` order."""
    controller: dict[str, float] = {}
    workers: dict[str, list[float]] = {}
    for e in events:
        at = float(e["t"]) - started
        if e["role"] == "controller":
            controller[e["event"]] = at
        else:
            workers.setdefault(e["event"], []).append(at)
    rows = [("controller", name, controller[name], controller[name]) for name in EVENTS if name in controller]
    rows += [
        (f"workers ({len(workers[name])})", name, statistics.median(workers[name]), max(workers[name]))
        for name in EVENTS
        if name in workers
    ]
    return rows
