"""Jobs for checker.pool's supervised workers in tests (tests/test_pool_clock.py,
tests/test_forkserver.py): a worker imports this module by name, so the test puts tests/ on the
worker's PYTHONPATH."""

from __future__ import annotations

import time
from dataclasses import dataclass

from checker import pool


@dataclass(frozen=True)
class Sleeps:
    """Sleep ``before`` s, then ``inside`` s with the supervisor's clock paused (allowing
    ``allowance_s``), then ``after`` s, and answer Ok("done")."""

    before: float
    inside: float = 0.0
    after: float = 0.0
    allowance_s: float = 60.0

    def handle(self) -> pool.JobOutcome:
        time.sleep(self.before)
        with pool.clock_paused("compile", self.allowance_s):
            time.sleep(self.inside)
        time.sleep(self.after)
        return pool.Ok("done")


@dataclass(frozen=True)
class Whoami:
    """Answer Ok((pid, parent pid, process group, whether torch was imported before this job))."""

    def handle(self) -> pool.JobOutcome:
        import os
        import sys

        return pool.Ok((os.getpid(), os.getppid(), os.getpgid(0), "torch" in sys.modules))


#: Set by :class:`Poison` in the worker that runs it.
_poisoned = False


@dataclass(frozen=True)
class Poison:
    """Mark this worker process poisoned, as a sticky CUDA error leaves its context unusable, and
    answer Ok(whether it was poisoned before); with ``check``, only answer that."""

    check: bool = False

    def handle(self) -> pool.JobOutcome:
        global _poisoned
        was = _poisoned
        if not self.check:
            _poisoned = True
        return pool.Ok(was)
