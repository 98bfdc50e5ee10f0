"""A readers-writer lock over every compile of one run, across its processes.

A compile that timed out while 16 others ran beside it may pass when it runs alone: on an H200
host one case compiled in 50 s in one run and was a ``compile-timeout`` in the next identical run
(issue 13). checker.execute therefore retries such a compile once *alone*: it takes this lock
exclusively, while every ordinary compile holds it shared. The lock is a pair of ``flock`` files
in the run's scratch directory (checker.rundir), so it spans xdist workers and their compile
workers, and the kernel drops it when a holder dies.

Linux ``flock`` gives a waiting exclusive request no priority over new shared ones, so a steady
stream of compiles could starve the retry. A second lock, the turnstile, fixes that: a shared
holder passes through it (takes and drops it) before taking the main lock, and the exclusive
holder keeps it, so no new compile starts while the retry waits for the running ones to end.
Outside a run (no scratch directory) both context managers lock nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from checker import rundir


def _open(name: str) -> int | None:
    run = rundir.current()
    if run is None:
        return None
    return os.open(Path(run) / name, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def shared() -> Iterator[None]:
    """Hold the compile lock shared: any number of compiles at once, none while one runs alone."""
    turnstile, main = _open("compile.turnstile"), _open("compile.lock")
    try:
        if turnstile is not None:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        if main is not None:
            fcntl.flock(main, fcntl.LOCK_SH)
        yield
    finally:
        for fd in (main, turnstile):
            if fd is not None:
                os.close(fd)  # closing drops the flock


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the compile lock alone: waits for running compiles to finish, keeps new ones out."""
    turnstile, main = _open("compile.turnstile"), _open("compile.lock")
    try:
        if turnstile is not None:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
        if main is not None:
            fcntl.flock(main, fcntl.LOCK_EX)
        yield
    finally:
        for fd in (main, turnstile):
            if fd is not None:
                os.close(fd)
