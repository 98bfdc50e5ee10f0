"""``--benchmark``: time the run's passing cases at the end of the session (docs/perf.md).

Loaded by the kcheck plugin (``pytest_plugins``); ``kcheck run --benchmark`` passes the flag to
pytest. Only the controlling process acts, after every case reported:

- on a CPU-only run it prints that benchmarking needs a CUDA GPU and times nothing;
- on a GPU it plans the timings from the run's passing native records (checker/perf/bench.py),
  runs them in one benchmark process, appends the timing records to results.jsonl (after the
  case records; they are no cases: docs/records.md) and prints the speedup table.

Why at session end and not after each case: timing needs the GPU to itself. Cases run on
``-n auto`` xdist workers, compiling and launching concurrently; a case timed while another
worker's kernel shares the device measures the neighbour. At session end nothing else runs, and
all configs of a kernel x shape x dtype are timed back to back on the same inputs, which is also
what "the best passing sampled config" needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from checker import options
from checker.model import Mode
from checker.session import STATE

#: Modes of the passing records that are timed: what ran on the GPU.
TIMED_MODES = frozenset({Mode.NATIVE})
#: Printed, and asserted by tests, when ``--benchmark`` runs without a GPU.
NO_GPU_MESSAGE = "kcheck: --benchmark needs a CUDA GPU; this run is not native, so nothing was timed"


@dataclass
class _PerfState:
    timings: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str = ""


PERF = pytest.StashKey[_PerfState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_pytest_options(parser.getgroup("kcheck", "kernel checker"), options.declared_by(__name__))


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("benchmark") and not hasattr(config, "workerinput"):
        config.stash[PERF] = _PerfState()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    perf = config.stash.get(PERF, None)
    state = config.stash.get(STATE, None)
    if perf is None or state is None or not state.is_controller or state.collect_only:
        return
    if not _native(state):
        perf.skipped = NO_GPU_MESSAGE
        return
    from checker.perf import bench

    job = bench.plan(
        state.records,
        state.kernel_dirs,
        state.options.sweep_seed,
        torch_compile=not config.getoption("benchmark_no_compile"),
        modes=TIMED_MODES,
    )
    if not job.groups:
        perf.skipped = "kcheck: --benchmark: no passing native case to time"
        return
    timeout = config.getoption("benchmark_timeout") or bench.DEFAULT_TIMEOUT_S
    result = bench.run_job(job, timeout)
    perf.timings, perf.problems = result.records, result.problems
    if state.writer is not None:
        for rec in result.records:
            state.writer.write(rec)


def _native(state: Any) -> bool:
    """Whether this run's cases ran on a GPU (a seam for the CPU tests of the GPU path)."""
    return bool(state.options.native)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    perf = terminalreporter.config.stash.get(PERF, None)
    if perf is None:
        return
    if perf.skipped:
        terminalreporter.write_line(perf.skipped, yellow=True)
        return
    from checker.perf.table import ceilings_line, text_table

    terminalreporter.write_sep("=", "kcheck benchmark")
    if perf.timings:
        terminalreporter.write(text_table(perf.timings))
        terminalreporter.write_line(ceilings_line(perf.timings))
    for problem in perf.problems[:10]:
        terminalreporter.write_line(f"benchmark: {problem}", yellow=True)
    if len(perf.problems) > 10:
        terminalreporter.write_line(f"benchmark: {len(perf.problems) - 10} more problems", yellow=True)
    terminalreporter.write_line(
        f"{len(perf.timings)} timing records appended to results.jsonl; "
        "`kcheck plot` / `kcheck compare` read them (docs/perf.md)"
    )
