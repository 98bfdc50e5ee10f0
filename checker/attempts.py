"""A cross-compile whose verdict does not depend on what ran beside it.

On an H200 host one case compiled in 50 s in one run and was a ``compile-timeout`` in the next
identical run, with 16 compiles in parallel (issue 13, item 9): wall time under contention is not
a property of the kernel. A compile that times out is therefore judged by the CPU time its
worker's process group used (checker.pool.group_cpu_seconds): if it was busy for most of its wall
time it really is slow, and the timeout stands; if it was starved, it is retried once *alone*
(checker.alone: every other compile of the run waits), and the retry's outcome is the verdict.
Both attempts' seconds are kept in the record (docs/records.md, ``compile_retried_alone``).

The timeout itself is a CPU-time budget (checker.hostspeed): a compile is killed once its worker
used ``budget_s`` GPU-host CPU seconds times this host's speed factor, which contention does not
change; wall time is a backstop of :data:`checker.pool.WALL_BACKSTOP` times that (a kill for CPU time stands
and is never retried).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from checker import alone
from checker.pool import STARTUP_TIMEOUT_S, WALL_BACKSTOP, JobOutcome, TimedOut, Worker

#: A timed-out compile that got at least this share of its wall time as CPU time was busy, not
#: starved by the compiles beside it: running it alone would not help, so it is not retried.
CPU_BOUND_SHARE = 0.8


@dataclass(frozen=True)
class CompileAttempts:
    """A cross-compile's outcome; ``first`` is the timed-out first attempt when it was retried
    alone, and ``waited_s`` the seconds spent waiting for the compile lock. ``cached``: the
    outcome was read from the compile cache (checker.cache.compile_cache) instead, in ``lookup_s`` seconds;
    its seconds are those of the run that compiled."""

    outcome: JobOutcome
    first: TimedOut | None = None
    waited_s: float = 0.0
    cached: bool = False
    lookup_s: float = 0.0
    #: The budget it ran under, GPU-host CPU seconds (``--compile-timeout``), and this host's
    #: speed factor then (checker.hostspeed.factor): its CPU limit was their product.
    budget_s: float = 0.0
    host_speed: float = 1.0

    @property
    def gpu_host_cpu_s(self) -> float:
        """The compile's cost in GPU-host CPU seconds: its worker's CPU seconds (its wall
        seconds where they are unknown) divided by the host speed factor it ran with."""
        cpu = getattr(self.outcome, "cpu_s", None)
        return (self.outcome.seconds if cpu is None else cpu) / self.host_speed

    @property
    def seconds(self) -> float:
        """Wall seconds of the compile attempts, lock waits excluded."""
        return self.outcome.seconds + (self.first.seconds if self.first else 0.0)

    @property
    def stage_seconds(self) -> float:
        """Wall seconds this case spent on the compile stage: the cache lookup for a cached
        outcome, else the attempts' :attr:`seconds`."""
        return self.lookup_s if self.cached else self.seconds

    def fields(self) -> dict[str, Any]:
        """Record fields: the compile's seconds always (of the run that compiled, for a cached
        outcome), ``compile_cached`` for a cached one, the lock wait when there was one, and the
        first attempt when the compile was retried alone."""
        fields: dict[str, Any] = {"compile_s": round(self.outcome.seconds, 4)}
        cpu = getattr(self.outcome, "cpu_s", None)
        if cpu is not None:
            fields["compile_cpu_s"] = cpu
        fields["compile_budget_s"] = self.budget_s
        fields["host_speed"] = round(self.host_speed, 4)
        if self.cached:
            fields["compile_cached"] = True
        if self.waited_s:
            fields["compile_lock_wait_s"] = self.waited_s
        if self.first is not None:
            fields["compile_retried_alone"] = {
                "first_seconds": self.first.seconds,
                "first_cpu_s": self.first.cpu_s,
            }
        return fields


def wall_limit_s(budget_s: float, host_speed: float) -> float:
    """The wall-clock backstop (seconds) of a compile with ``budget_s`` GPU-host CPU seconds on
    a host of speed factor ``host_speed``: WALL_BACKSTOP times its CPU limit, at least the budget."""
    return max(budget_s, WALL_BACKSTOP * budget_s * host_speed)


def allowance_s(timeout_s: float) -> float:
    """The most wall time (seconds) :func:`compile_attempts` takes while every worker keeps its
    limits: two attempts and one wait for the compile lock of ``timeout_s`` (its wall limit,
    :func:`wall_limit_s`) each, and three
    worker start-ups of at most ``pool.STARTUP_TIMEOUT_S`` (its own worker's two, and the one of
    a retry that held the lock). A case worker's clock (--run-timeout) stops while it compiles,
    for at most this long (``pool.clock_paused``): beyond it something is stuck."""
    return 3 * timeout_s + 3 * STARTUP_TIMEOUT_S


def compile_attempts(worker: Worker, job: Any, budget_s: float, host_speed: float = 1.0) -> CompileAttempts:
    """Run compile ``job`` in ``worker`` with ``budget_s`` GPU-host CPU seconds (times
    ``host_speed`` here; wall backstop :func:`wall_limit_s`), holding the run's compile lock
    shared; a starved wall-clock timeout is retried once holding it exclusively."""
    cpu_limit = budget_s * host_speed
    wall = wall_limit_s(budget_s, host_speed)
    t0 = time.monotonic()
    with alone.shared():
        waited = time.monotonic() - t0
        outcome = worker.run(job, wall, cpu_limit)
    if not isinstance(outcome, TimedOut) or cpu_bound(outcome):
        return CompileAttempts(outcome, waited_s=round(waited, 3), budget_s=budget_s, host_speed=host_speed)
    t0 = time.monotonic()
    with alone.exclusive():
        waited += time.monotonic() - t0
        retry = worker.run(job, wall, cpu_limit)
    return CompileAttempts(
        retry, first=outcome, waited_s=round(waited, 3), budget_s=budget_s, host_speed=host_speed
    )


def cpu_bound(outcome: TimedOut) -> bool:
    """Whether a timed-out job was killed for its CPU time, or used the CPU for most of its wall
    time (see CPU_BOUND_SHARE)."""
    busy = outcome.cpu_s is not None and outcome.cpu_s >= CPU_BOUND_SHARE * outcome.seconds
    return outcome.by_cpu or busy
