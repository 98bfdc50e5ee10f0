"""Workers forked by the preloaded fork server (checker.forkserver), on CPU: each is forked from
the server (not spawned, not a fork of the supervisor), in a process group of its own, and after
a crash, a hang past its timeout or a poisoned process it is replaced by a fresh fork that runs
the next job. Real processes, real signals; the whole-case faults (segfault, endless loop) under
the fork server are tests/test_faults.py, which runs with the fork server by default."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pool_jobs import Poison, Sleeps, Whoami

from checker import forkserver
from checker.pool import CompileJob, Died, Ok, TimedOut, Worker
from checker.targets import get_target

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    """A worker with this directory on its PYTHONPATH (for pool_jobs), and fork servers on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
        mp.delenv(forkserver.START_ENV, raising=False)
        w = Worker()
        yield w
        w.close()


def _server_pid() -> int:
    return forkserver._servers["NATIVE"][2].pid


def _whoami(worker: Worker) -> tuple[int, int, int, bool]:
    outcome = worker.run(Whoami(), 60.0)
    assert isinstance(outcome, Ok), outcome
    return outcome.result


def test_a_worker_is_forked_from_the_preloaded_server_in_its_own_group(worker: Worker) -> None:
    pid, ppid, pgid, had_torch = _whoami(worker)
    assert ppid == _server_pid() != os.getpid()
    assert pgid == pid  # its own session: the supervisor's kill reaches everything it starts
    assert had_torch  # imported by the server before the fork, not by the job
    worker.kill()
    started = time.monotonic()
    again = _whoami(worker)
    # A fresh interpreter takes seconds to import torch here; a fork takes milliseconds (the
    # bound leaves room for a loaded 2-core machine).
    assert time.monotonic() - started < 5.0
    assert again[0] != pid and again[1] == ppid


def test_a_crashed_worker_is_replaced_by_a_fresh_fork(worker: Worker) -> None:
    first = _whoami(worker)[0]
    outcome = worker.run(CompileJob("", "k", (), get_target("sm_90"), fault="segv"), 60.0)
    assert isinstance(outcome, Died) and outcome.signal == "SIGSEGV" and outcome.crash_signal, outcome
    pid, ppid, _, _ = _whoami(worker)
    assert pid != first and ppid == _server_pid()


def test_a_hung_worker_is_killed_with_its_group_and_replaced(worker: Worker) -> None:
    group = _whoami(worker)[2]
    # "hang" ignores SIGTERM and waits in a child (sleep 600): SIGKILL must reach the group.
    outcome = worker.run(CompileJob("", "k", (), get_target("sm_90"), fault="hang"), 1.0)
    assert isinstance(outcome, TimedOut) and outcome.seconds < 10.0, outcome
    deadline = time.monotonic() + 10.0
    while _group_alive(group):  # the sleep is gone once init reaped it
        assert time.monotonic() < deadline, f"process group {group} outlived the kill"
        time.sleep(0.1)
    assert isinstance(worker.run(Sleeps(before=0.0), 60.0), Ok)


def test_close_kills_the_group_without_waiting_for_it(worker: Worker) -> None:
    """At the end of a run each xdist worker closes its workers; waiting for a case worker that
    holds a CUDA context to exit cost 1.7 s of every run's tail on an H100. close() kills the
    group and returns: here a job that ignores SIGTERM (kill() waits its 2 s grace for it)."""
    worker.kill()
    worker.start((CompileJob("", "k", (), get_target("sm_90"), fault="hang"), 60.0))
    group = worker._proc.pid if worker._proc is not None else -1
    deadline = time.monotonic() + 30.0
    while "sleep" not in _commands_in_group(group):
        assert time.monotonic() < deadline, "the hanging job never started its sleep"
        time.sleep(0.1)
    started = time.monotonic()
    worker.close()
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 10.0
    while _group_alive(group):
        assert time.monotonic() < deadline, f"process group {group} outlived close()"
        time.sleep(0.1)
    assert isinstance(worker.run(Sleeps(before=0.0), 60.0), Ok)  # a closed worker starts anew


def _commands_in_group(group: int) -> list[str]:
    """The command names (/proc/<pid>/comm) of the processes in process group ``group``."""
    names = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                name, after = f.read().split(" (", 1)[1].rsplit(") ", 1)
        except (OSError, IndexError, ValueError):
            continue
        if int(after.split()[2]) == group:  # stat field 5: pgrp
            names.append(name)
    return names


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_poisoned_worker_is_replaced_and_the_next_job_runs_clean(worker: Worker) -> None:
    """What CaseRunner does after a sticky CUDA error: kill the worker; the next one must not
    inherit the poison (the server it is forked from never ran a job)."""
    first = worker.run(Poison(), 60.0)
    assert isinstance(first, Ok) and first.result is False and first.stderr_tail == ""
    assert isinstance(checked := worker.run(Poison(check=True), 60.0), Ok) and checked.result is True
    worker.kill()
    assert isinstance(clean := worker.run(Poison(check=True), 60.0), Ok) and clean.result is False


def test_spawn_is_used_when_asked_and_said_once(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(forkserver.START_ENV, "spawn")
        mp.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
        forkserver._said.clear()
        w = Worker()
        try:
            _, ppid, _, _ = _whoami(w)
            # A second start in this process says nothing more (and spawns: no fork server).
            assert forkserver.fork("checker.pool", dict(os.environ), 2, ()) is None
        finally:
            w.close()
    assert ppid == os.getpid()
    assert capfd.readouterr().err.count("workers start as fresh interpreters") == 1


def test_the_server_refuses_to_fork_after_cuda_or_threads() -> None:
    """Where a fork would be unsafe the server says why (and spawns instead)."""
    assert forkserver._unsafe_to_fork("ImportError: x") == "the preload failed: ImportError: x"
    code = "import threading, time; threading.Thread(target=time.sleep, args=(5,), daemon=True).start(); "
    code += "from checker import forkserver; print(forkserver._unsafe_to_fork(None))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "the preload left 2 Python threads running"


def test_the_server_forks_nothing_for_another_module_or_garbage_and_keeps_serving(
    worker: Worker, tmp_path: Path
) -> None:
    """The socket is open to every local process: a request for any module but the worker loop
    (here one that would write a marker file) and bytes that are no request fork nothing."""
    _whoami(worker)
    address = forkserver._servers["NATIVE"][1]
    marker = tmp_path / "PWNED"
    (tmp_path / "evil_mod.py").write_text(f"open({str(marker)!r}, 'w').write('forked')\n")
    evil = {"module": "evil_mod", "env": {"PYTHONPATH": str(tmp_path)}, "cwd": str(tmp_path)}
    for payload in (json.dumps(evil).encode(), b"\x80not json"):
        r, w = os.pipe()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect("\0" + address)
            socket.send_fds(conn, [struct.pack("<q", len(payload)) + payload], [r, w, w])
            conn.settimeout(30)
            assert conn.recv(64) == b""  # closed without an answer: no child
        os.close(r)
        os.close(w)
    time.sleep(0.5)
    assert not marker.exists()
    assert _whoami(worker)[1] == _server_pid()  # the server still forks workers


def test_a_worker_dies_with_its_server(worker: Worker) -> None:
    """A forked worker whose server is gone (its supervisor died, so the server died with it)
    does not live on as an orphan: one was found computing 82 minutes after its run ended."""
    pid, ppid, _, _ = _whoami(worker)
    os.kill(ppid, 9)  # the server; the worker idles, waiting for its next job
    deadline = time.monotonic() + 10.0
    try:
        while _alive(pid):
            assert time.monotonic() < deadline, f"worker {pid} outlived its server {ppid}"
            time.sleep(0.05)
    finally:
        worker.kill()


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an orphan killed is reaped by init)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
