"""A job's clock in its supervised worker stops while the job runs a step with timeouts of its
own (checker.pool.clock_paused): a case worker's compile does not count against --run-timeout,
and a case stuck anywhere else is killed after --run-timeout, not after the compile's allowance
too. Real worker processes, real sleeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pool_jobs import Sleeps

from checker.pool import Ok, TimedOut, Worker

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def worker():
    """One worker for the module (a start imports torch and helion); replaced after each kill,
    with this module's directory on the replacement's PYTHONPATH too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
        w = Worker()
        yield w
        w.close()


def test_a_paused_step_is_not_counted_and_the_rest_is(worker: Worker) -> None:
    # 3 s inside the paused step, 0.2 s outside: within a 1.5 s timeout.
    outcome = worker.run(Sleeps(before=0.1, inside=3.0, after=0.1), 1.5)
    assert isinstance(outcome, Ok) and outcome.result == "done", outcome
    # The time before and after the step adds up: 1 s + 1 s is over 1.5 s.
    outcome = worker.run(Sleeps(before=1.0, inside=1.0, after=1.0), 1.5)
    assert isinstance(outcome, TimedOut) and outcome.step is None, outcome
    # Killed 1.5 s of unpaused time after the start: the paused second is not counted.
    assert 2.4 <= outcome.seconds < 4.0 and 0.9 <= outcome.paused_s < 1.5, outcome


def test_a_job_stuck_outside_any_step_is_killed_at_its_timeout(worker: Worker) -> None:
    outcome = worker.run(Sleeps(before=30.0, allowance_s=600.0), 1.0)
    assert isinstance(outcome, TimedOut) and outcome.step is None and outcome.paused_s == 0
    assert outcome.seconds < 5.0, outcome


def test_a_step_past_its_allowance_is_killed_inside_it(worker: Worker) -> None:
    outcome = worker.run(Sleeps(before=0.2, inside=30.0, allowance_s=1.0), 1.0)
    # The clock had about 0.8 s left when the step began: killed about 1.8 s after the start.
    assert isinstance(outcome, TimedOut) and outcome.step == "compile", outcome
    assert 1.5 <= outcome.seconds < 5.0 and outcome.paused_s >= 1.0, outcome
    # The worker was replaced: the next job runs in a fresh one.
    assert isinstance(worker.run(Sleeps(before=0.0), 5.0), Ok)
