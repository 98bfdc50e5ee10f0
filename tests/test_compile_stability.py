"""Compile-timeout verdicts that do not depend on what ran beside the compile (issue 13, item 9),
and the run's scratch directory that is removed when the run ends (item 10). Real workers,
real timeouts: a compile that waits like a starved one, a compile that keeps a CPU busy."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker import alone, rundir
from checker.attempts import CPU_BOUND_SHARE, compile_attempts
from checker.pool import CompileJob, CompileWorker, Error, TimedOut, group_cpu_seconds
from checker.targets import get_target


@pytest.fixture
def run_dir() -> Iterator[Path]:
    run = rundir.create()
    try:
        yield run.path
    finally:
        rundir.remove(run)


@pytest.fixture
def worker() -> Iterator[CompileWorker]:
    w = CompileWorker()
    try:
        yield w
    finally:
        w.close()


def test_a_starved_compile_is_retried_alone_and_the_retry_decides(
    run_dir: Path, worker: CompileWorker, tmp_path: Path
) -> None:
    marker = tmp_path / "stalled"
    job = CompileJob("", "x", (), get_target("sm_90"), fault=f"stall-once:{marker}")
    # 0.5 GPU-host CPU s at host speed 1: a wall backstop of 5 s (checker.attempts.WALL_BACKSTOP).
    attempts = compile_attempts(worker, job, 0.5, 1.0)
    assert marker.exists(), "the first attempt stalled"
    first = attempts.first
    assert first is not None and first.seconds >= 5.0 and not first.by_cpu
    assert first.cpu_s is not None and first.cpu_s < CPU_BOUND_SHARE * first.seconds
    # The retry compiled: an empty program is an ordinary compile error, not a timeout.
    assert isinstance(attempts.outcome, Error)
    retried = attempts.fields()["compile_retried_alone"]
    assert retried["first_seconds"] == first.seconds and retried["first_cpu_s"] == first.cpu_s


def test_a_compile_busy_for_its_whole_timeout_is_not_retried(run_dir: Path, worker: CompileWorker) -> None:
    """A spinning compile is killed once it used its CPU limit, however loaded the machine (CI: 2
    cores, two test workers and the spin; it once got 2.34 s of CPU in 3.12 s of wall time, and
    the old wall-clock rule called it starved and retried it): the timeout stands without a
    retry, and the CPU time is the job's own."""
    attempts = compile_attempts(worker, CompileJob("", "x", (), get_target("sm_90"), fault="spin"), 3.0, 1.0)
    outcome = attempts.outcome
    assert isinstance(outcome, TimedOut) and outcome.by_cpu and attempts.first is None
    assert "compile_retried_alone" not in attempts.fields()
    assert outcome.cpu_s is not None and outcome.cpu_s >= 3.0
    # The job's own CPU time, not the worker's since it started (its imports took seconds of CPU:
    # counted, they made a starved compile on a loaded CI machine look busy, and it was not retried).
    assert outcome.cpu_s <= 1.2 * outcome.seconds and outcome.cpu_s < 3.0 + 1.0


def test_timeout_does_not_count_the_workers_start(worker: CompileWorker) -> None:
    """A fresh worker imports torch and triton before the job's clock starts: a job with a
    timeout far shorter than that start-up still gets its answer."""
    outcome = worker.run(CompileJob("", "x", (), get_target("sm_90")), timeout_s=0.5)
    assert isinstance(outcome, Error), outcome


def test_group_cpu_seconds_counts_the_whole_process_group() -> None:
    spinner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass",
        ],
        start_new_session=True,
    )
    time.sleep(1.0)
    used = group_cpu_seconds(spinner.pid)
    spinner.wait()
    assert used is not None and 0.3 < used < 2.0


def test_a_compile_alone_waits_for_running_compiles_and_keeps_new_ones_out(run_dir: Path) -> None:
    events: list[str] = []
    holding = threading.Event()

    def ordinary(name: str, hold_s: float) -> None:
        with alone.shared():
            events.append(f"{name} start")
            holding.set()
            time.sleep(hold_s)
            events.append(f"{name} end")

    first = threading.Thread(target=ordinary, args=("a", 0.5))
    first.start()
    holding.wait()
    retry_started = threading.Event()

    def by_itself() -> None:
        retry_started.set()
        with alone.exclusive():
            events.append("alone start")
            time.sleep(0.3)
            events.append("alone end")

    lone = threading.Thread(target=by_itself)
    lone.start()
    retry_started.wait()
    time.sleep(0.1)  # the retry is now waiting for "a"
    late = threading.Thread(target=ordinary, args=("b", 0.0))
    late.start()
    for t in (first, lone, late):
        t.join(10)
    assert events == ["a start", "a end", "alone start", "alone end", "b start", "b end"]


def test_the_run_dir_holds_generated_code_and_is_removed(pytester: pytest.Pytester) -> None:
    """A run's generated modules go under its scratch directory, which is gone after the run."""
    pytester.makepyfile(
        test_gen="""
        import os
        from checker import codegen, rundir

        def test_writes_there():
            entry = codegen.load("def f():\\n    return 1\\n", "f")
            assert entry() == 1
            run = rundir.current()
            assert run is not None
            assert os.path.commonpath([run, entry.__code__.co_filename]) == str(run)
            with open(os.environ["SEEN_FILE"], "w") as f:
                f.write(str(run))
        """
    )
    seen = pytester.path / "seen.txt"
    os.environ["SEEN_FILE"] = str(seen)
    try:
        result = pytester.runpytest_subprocess("-p", "no:xdist", "--device", "cpu")
    finally:
        del os.environ["SEEN_FILE"]
    result.assert_outcomes(passed=1)
    used = Path(seen.read_text())
    assert used.name.startswith(rundir.PREFIX)
    assert not used.exists(), "the run's scratch directory must be removed when the run ends"


def test_orphaned_run_dirs_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"{rundir.PREFIX}orphan"
    (orphan / "gen-1").mkdir(parents=True)
    (orphan / "owner").write_text(str(dead.pid))
    live = tmp_path / f"{rundir.PREFIX}live"
    live.mkdir()
    (live / "owner").write_text(str(os.getpid()))
    assert rundir.remove_orphans(tmp_path) == [orphan]
    assert not orphan.exists() and live.exists()
