"""Jobs for checker.pool's supervised workers in tests (tests/test_pool_clock.py): a worker
imports this module by name, so the test puts tests/ on the worker's PYTHONPATH."""

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
