"""Readers-writer locks over the processes of one run: something retried *alone*.

Two things are retried alone when what ran beside them may have decided their outcome:

- ``compile`` (the default lock): a compile that timed out while 16 others ran beside it may
  pass when it runs alone: on an H200 host one case compiled in 50 s in one run and was a
  ``compile-timeout`` in the next identical run (issue 13). checker.attempts retries such a
  compile once holding this lock exclusively, while every ordinary compile holds it shared.
- ``gpu-<device>`` (checker.exec_worker): a case that ran out of GPU memory while other case
  workers shared the GPU (two of 861 verdicts flipped between identical ``-n 16`` runs on an
  H100, issue 22) is re-run holding its GPU's lock exclusively, while every case holds it
  shared.

Each lock is a pair of ``flock`` files in the run's scratch directory (checker.rundir), so it
spans xdist workers and their compile and case workers, and the kernel drops it when a holder
dies. ``flock`` locks belong to an open file description: two opens of one file conflict even
within a process (threads of one test may play separate processes).

Linux ``flock`` gives a waiting exclusive request no priority over new shared ones, so a steady
stream of shared holders could starve the exclusive one. A second lock, the turnstile, fixes
that: a shared holder passes through it (takes and drops it) before taking the main lock, and
the exclusive holder keeps it, so no new shared holder enters while the exclusive one waits for
those inside to leave. Whether an exclusive holder is waiting or running can thus be seen
without blocking (:func:`pending`): a shared holder that must make room for it (a case worker
holding GPU memory) does so before it leaves or waits (``before_wait``).
Outside a run (no scratch directory) nothing is locked and nothing is ever pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from checker import rundir

#: The lock of the run's compiles (checker.attempts).
COMPILE = "compile"
#: Non-blocking tries (``_TRY_GAP_S`` apart) before the turnstile counts as held: a shared holder
#: passing through holds it for microseconds, an exclusive one for as long as it waits and runs.
_TRIES = 3
_TRY_GAP_S = 0.002


def _open(name: str) -> int | None:
    run = rundir.current()
    if run is None:
        return None
    return os.open(Path(run) / name, os.O_RDWR | os.O_CREAT, 0o600)


def _files(lock: str) -> tuple[int | None, int | None]:
    """Open file descriptors of ``lock``'s turnstile and main lock (None, None outside a run)."""
    turnstile = _open(f"{lock}.turnstile")
    return turnstile, (_open(f"{lock}.lock") if turnstile is not None else None)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)  # closing drops the flock


def _held_by_another(turnstile: int) -> bool:
    """Whether someone else holds the turnstile: an exclusive holder, waiting or running. On
    False this descriptor holds it: the caller drops or keeps it."""
    for attempt in range(_TRIES):
        try:
            fcntl.flock(turnstile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            if attempt + 1 < _TRIES:
                time.sleep(_TRY_GAP_S)
    return True


def pending(lock: str = COMPILE) -> bool:
    """Whether an exclusive holder of ``lock`` is waiting or running right now (False outside a
    run). Never blocks: a few non-blocking tries of the turnstile over a few milliseconds."""
    turnstile = _open(f"{lock}.turnstile")
    if turnstile is None:
        return False
    try:
        return _held_by_another(turnstile)
    finally:
        _close(turnstile)


@contextlib.contextmanager
def shared(lock: str = COMPILE, before_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``lock`` shared: any number of holders at once, none while one holds it alone.

    ``before_wait`` is called, before blocking, when an exclusive holder is waiting or running
    (:func:`pending`): what this holder must give up for it to be alone (GPU memory)."""
    turnstile, main = _files(lock)
    try:
        if turnstile is not None:
            if _held_by_another(turnstile):
                if before_wait is not None:
                    before_wait()
                fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        if main is not None:
            fcntl.flock(main, fcntl.LOCK_SH)
        yield
    finally:
        _close(main, turnstile)


@contextlib.contextmanager
def exclusive(lock: str = COMPILE) -> Iterator[None]:
    """Hold ``lock`` alone: waits for the shared holders inside to leave, keeps new ones out."""
    turnstile, main = _files(lock)
    try:
        if turnstile is not None:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
        if main is not None:
            fcntl.flock(main, fcntl.LOCK_EX)
        yield
    finally:
        _close(main, turnstile)
