"""GPU memory contention is decided alone (issue 22, checker.exec_worker, checker.alone).

With ``-n 16`` on an H100, two of 861 verdicts flipped between identical runs to
``reference-error: OutOfMemoryError`` because 16 case workers shared 80 GB. A case that runs out
of memory is therefore run again holding its GPU's lock exclusively, after every other worker on
that GPU gave back what it keeps, and only that run decides. On CPU the same code runs with the
``cpu`` lock (an OOM is an OOM): the kernels of tests/oom_kernels raise torch's own
``OutOfMemoryError`` unless the lock is held exclusively, through the real plugin and case
workers; the lock and the supervisor's part are tested with threads holding real ``flock``s on
descriptors of their own.
"""

from __future__ import annotations

import importlib
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invariant import check_run

from checker import alone
from checker.categories import Category
from checker.model import CaseId, Record
from checker.pool import Ok

OOM_KERNELS = Path(__file__).parent / "oom_kernels" / "oom.py"
GIB = 1 << 30
OOM = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of "
    "which 1.12 GiB is free."
)


# --- through the real plugin and case workers --------------------------------------------------


def test_an_oom_beside_others_is_retried_alone_and_only_the_retry_decides(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    shutil.copy(OOM_KERNELS, pytester.path / "kernels" / "oom.py")
    result = pytester.runpytest_subprocess(
        *("--isolate", "on", "--shapes", "small", "--configs", "0", "--compile", "off"),
        *("-p", "no:xdist", "-p", "no:randomly"),
    )
    records = check_run(pytester.path / "reports", result.ret)
    by_kernel = {r.case.kernel: r for r in records}
    assert set(by_kernel) == {"oom_reference_once", "oom_reference_always", "fits", "oom_launch_once"}

    # The reference ran out of memory beside the others (the lock held shared), passed alone.
    once = by_kernel["oom_reference_once"]
    assert once.category is Category.PASSED, once.message[:500]
    first = once.fields["retried_alone"]
    assert first["first_category"] == "reference-error"
    assert first["first_message"].startswith("reference raised: OutOfMemoryError: CUDA out of memory.")
    assert first["first_requested_bytes"] == 2 * GIB and first["wait_s"] >= 0
    assert "requested_bytes" not in once.fields

    # The kernel's wrapper ran out of memory (cuda-oom), and passed alone.
    launch = by_kernel["oom_launch_once"]
    assert launch.category is Category.PASSED, launch.message[:500]
    assert launch.fields["retried_alone"]["first_category"] == "cuda-oom"

    # Out of memory alone too: that is the verdict, naming the reference and what it asked for.
    always = by_kernel["oom_reference_always"]
    assert always.category is Category.REFERENCE_ERROR
    assert always.fields["requested_bytes"] == 2 * GIB
    assert always.fields["retried_alone"]["first_category"] == "reference-error"
    headline = always.message.splitlines()[0]
    assert headline == (
        "the reference of kernel spec 'oom_reference_always' ran out of memory alone (retried with "
        "no other case of the run on its device): it tried to allocate 2.00 GiB (2147483648 bytes)"
    ), headline
    assert "reference raised: OutOfMemoryError: CUDA out of memory." in always.message

    # A case that fits is run once.
    assert by_kernel["fits"].category is Category.PASSED
    assert "retried_alone" not in by_kernel["fits"].fields
    assert result.ret == 1  # the reference that never fits fails the run


# --- the lock ---------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run's scratch directory (checker.rundir) for the locks."""
    monkeypatch.setenv("KCHECK_RUN_DIR", str(tmp_path))
    return tmp_path


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def _thread(target: Callable[[], None]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def test_exclusive_waits_for_shared_holders_and_keeps_new_ones_out(run_dir: Path) -> None:
    log: list[str] = []
    release_s1, release_x = threading.Event(), threading.Event()

    def s1() -> None:
        with alone.shared("gpu-0"):
            log.append("s1 in")
            release_s1.wait(10)
            log.append("s1 out")

    def x() -> None:
        with alone.exclusive("gpu-0"):
            log.append("x in")
            release_x.wait(10)
            log.append("x out")

    def s2() -> None:
        with alone.shared("gpu-0", before_wait=lambda: log.append("s2 frees")):
            log.append("s2 in")

    assert not alone.pending("gpu-0")
    threads = [_thread(s1)]
    _wait_for(lambda: "s1 in" in log)
    threads.append(_thread(x))
    _wait_for(lambda: alone.pending("gpu-0"))  # x waits, holding the turnstile
    threads.append(_thread(s2))
    _wait_for(lambda: "s2 frees" in log)  # s2 saw it without blocking, and made room first
    time.sleep(0.3)
    assert log == ["s1 in", "s2 frees"]  # x waits for s1; s2 waits for x
    # Another GPU's lock is another lock.
    with alone.shared("gpu-1"):
        assert not alone.pending("gpu-1")
    release_s1.set()
    _wait_for(lambda: "x in" in log)
    time.sleep(0.3)
    assert "s2 in" not in log
    release_x.set()
    for t in threads:
        t.join(10)
    assert log == ["s1 in", "s2 frees", "s1 out", "x in", "x out", "s2 in"]
    assert not alone.pending("gpu-0")


def test_outside_a_run_nothing_is_locked_or_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCHECK_RUN_DIR", raising=False)
    with alone.exclusive("gpu-0"), alone.shared("gpu-0", before_wait=pytest.fail):
        assert not alone.pending("gpu-0")


# --- the supervisor (CaseRunner) with a stand-in worker -----------------------------------------


def _exec_worker() -> Any:
    # The module sys.modules holds (an in-process pytester run may have replaced it).
    return importlib.import_module("checker.exec_worker")


CASE = CaseId("add", (256,), "fp32", "default")


def _opts() -> Any:
    from checker.run_options import RunOptions
    from checker.targets import get_target

    return RunOptions(0, get_target("sm_90"), native=False, n_configs=0, cache_dir=None)


def _record(category: Category = Category.PASSED, message: str = "", **fields: Any) -> Record:
    from checker.execute import unconfigured_record

    return unconfigured_record(CASE, category, _opts(), message, category.value, 1.5, fields=fields)


class StandIn:
    """A case worker that answers from ``answer(job)`` and logs each job's kind."""

    alive = True
    pending = False

    def __init__(self, log: list[str], answer: Callable[[Any], Record | None] | None = None) -> None:
        self.log = log
        self.answer = answer or (lambda job: _record())
        self.jobs: list[Any] = []

    def run(self, job: Any, timeout_s: float, cpu_limit_s: float | None = None) -> Ok:
        self.jobs.append(job)
        self.log.append(type(job).__name__ + (" alone" if getattr(job, "alone", False) else ""))
        return Ok(self.answer(job))

    def kill(self) -> None:
        self.log.append("kill")

    close = kill


def _runner(log: list[str], answer: Callable[[Any], Record | None] | None = None) -> Any:
    runner = _exec_worker().CaseRunner(_opts(), run_timeout=60)
    runner._worker = StandIn(log, answer)
    return runner


def test_a_supervisor_makes_room_before_it_waits_for_a_case_running_alone(run_dir: Path) -> None:
    log: list[str] = []
    runner = _runner(log)
    runner.check("k.py", "add", CASE)  # its worker now keeps that case's inputs
    assert log == ["CaseJob"]
    release = threading.Event()

    def retry() -> None:
        with alone.exclusive("cpu"):
            log.append("retry in")
            release.wait(10)
            log.append("retry out")

    t = _thread(retry)
    _wait_for(lambda: "retry in" in log)
    records: list[Record] = []
    checked = _thread(lambda: records.append(runner.check("k.py", "add", CASE)))
    _wait_for(lambda: "FreeMemory" in log)
    time.sleep(0.3)
    assert log == ["CaseJob", "retry in", "FreeMemory"]  # freed, then waits
    release.set()
    t.join(10)
    checked.join(10)
    assert log == ["CaseJob", "retry in", "FreeMemory", "retry out", "CaseJob"]
    assert records[0].category is Category.PASSED and records[0].fields["gpu_lock_wait_s"] >= 0.3


def test_a_supervisor_that_ends_a_case_while_a_retry_waits_frees_before_leaving(run_dir: Path) -> None:
    log: list[str] = []
    go = threading.Event()

    def slow_case(job: Any) -> Record | None:
        if type(job).__name__ == "CaseJob":
            go.wait(10)
        return _record()

    runner = _runner(log, slow_case)
    checked = _thread(lambda: log.append(runner.check("k.py", "add", CASE).category.value))
    _wait_for(lambda: "CaseJob" in log)

    def retry() -> None:
        with alone.exclusive("cpu"):
            log.append("retry in")

    t = _thread(retry)
    _wait_for(lambda: alone.pending("cpu"))
    go.set()
    checked.join(10)
    t.join(10)
    # The worker freed before the supervisor let go (then the case's answer and the retry race).
    assert log[:2] == ["CaseJob", "FreeMemory"] and sorted(log[2:]) == ["passed", "retry in"], log
    # With nothing pending, a case ends without freeing (its inputs serve the group's next case).
    log.clear()
    runner.check("k.py", "add", CASE)
    assert log == ["CaseJob"]


def test_the_retry_runs_holding_the_lock_alone_and_its_outcome_is_the_record(run_dir: Path) -> None:
    log: list[str] = []
    seen_alone: list[bool] = []

    def answer(job: Any) -> Record:
        # Another process of the run could take the lock shared now only while nobody holds it alone.
        seen_alone.append(alone.pending("cpu"))
        if not job.alone:
            return _record(Category.CUDA_OOM, f"OutOfMemoryError: {OOM}", exception="OutOfMemoryError")
        return _record(compile_s=0.1)

    runner = _runner(log, answer)
    record = runner.check("k.py", "add", CASE)
    assert log == ["CaseJob", "CaseJob alone"]
    assert seen_alone == [False, True]
    assert record.category is Category.PASSED
    assert record.fields["compile_s"] == 0.1 and record.duration_s == 3.0  # both attempts' time
    assert record.fields["retried_alone"]["first_category"] == "cuda-oom"
    assert record.fields["retried_alone"]["first_message"] == f"OutOfMemoryError: {OOM}"
    assert "requested_bytes" not in record.fields  # it passed: no OOM verdict to explain


def test_a_kernel_out_of_memory_alone_is_cuda_oom_with_the_bytes_it_asked_for(run_dir: Path) -> None:
    log: list[str] = []
    oom = _record(Category.CUDA_OOM, f"OutOfMemoryError: {OOM}", exception="OutOfMemoryError")
    record = _runner(log, lambda job: oom).check("k.py", "add", CASE)
    assert log == ["CaseJob", "CaseJob alone"]
    assert record.category is Category.CUDA_OOM and record.fields["requested_bytes"] == 2 * GIB
    assert record.message.splitlines()[0].startswith("ran out of memory alone (retried with no other case")
    assert record.signature == oom.signature  # one bug, one signature, retried or not


def test_what_counts_as_out_of_memory_and_what_it_asked_for() -> None:
    ew = _exec_worker()
    assert ew.out_of_memory(_record(Category.CUDA_OOM, "x"))
    assert ew.out_of_memory(
        _record(
            Category.REFERENCE_ERROR,
            f"reference raised: OutOfMemoryError: {OOM}",
            exception="OutOfMemoryError",
        )
    )
    assert not ew.out_of_memory(
        _record(Category.REFERENCE_ERROR, "reference raised: ValueError: no", exception="ValueError")
    )
    assert not ew.out_of_memory(_record(Category.PASSED))
    # The runtime's allocation and a CUDA context a full GPU could not give (H100, 2026-12-07).
    assert ew.out_of_memory(_record(Category.RUNTIME_ERROR, "AcceleratorError: CUDA error: out of memory"))
    busy = "AcceleratorError: CUDA error: CUDA-capable device(s) is/are busy or unavailable"
    assert ew.out_of_memory(_record(Category.RUNTIME_ERROR, busy))
    # What the supervisor made of a dead or stuck worker is never retried, whatever it printed.
    assert not ew.out_of_memory(_record(Category.WORKER_DIED, f"worker died\n{OOM}"))
    assert not ew.out_of_memory(_record(Category.RUN_TIMEOUT, "CUDA out of memory"))
    assert ew.requested_bytes(OOM) == 2 * GIB
    assert ew.requested_bytes("Tried to allocate 512.00 MiB.") == 512 << 20
    assert ew.requested_bytes("Tried to allocate 20.00 KiB") == 20 << 10
    assert ew.requested_bytes("Tried to allocate 1000 bytes") == 1000
    assert ew.requested_bytes("you tried to allocate 1152921504606846976 bytes") == 1 << 60
    assert ew.requested_bytes("out of memory") is None


def test_gpu_lock_names(monkeypatch: pytest.MonkeyPatch) -> None:
    ew = _exec_worker()
    assert ew.gpu_lock_name(native=False) == "cpu"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert ew.gpu_lock_name(native=True) == "gpu-0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert ew.gpu_lock_name(native=True) == "gpu-3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1f2e/x, 4")
    assert ew.gpu_lock_name(native=True) == "gpu-GPU-1f2e_x"


def test_the_free_job_travels_to_a_worker_and_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    ew = _exec_worker()
    cleared: list[str] = []
    monkeypatch.setattr(
        importlib.import_module("checker.prepare"), "clear_caches", lambda: cleared.append("x")
    )
    outcome = pickle.loads(pickle.dumps(ew.FreeMemory())).handle()
    assert isinstance(outcome, Ok) and cleared == ["x"]


def test_the_gpu_peak_is_read_from_torch_native_cases_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    ew = _exec_worker()
    assert ew._gpu_peak(native=False)() is None
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 3 * GIB)
    read = ew._gpu_peak(native=True)
    assert calls == ["reset"] and read() == 3 * GIB


# --- golden checks, which bind in the pytest process beside the case workers ----------------


@pytest.mark.parametrize("again", [False, True])
def test_a_golden_check_out_of_memory_beside_others_is_checked_again_alone(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, again: bool
) -> None:
    """On an H100 five warm golden checks failed "CUDA error: out of memory" (a runtime-error,
    blamed on the kernel) while 16 case workers filled the GPU (2026-12-07): a golden check now
    holds the GPU lock shared like a case and, out of memory, is checked again holding it alone
    after this process's case worker gave back its memory."""
    import dataclasses
    import importlib

    golden_plugin = importlib.import_module("checker.golden_plugin")
    ew = _exec_worker()
    first = _record(Category.RUNTIME_ERROR, "AcceleratorError: CUDA error: out of memory")
    calls: list[str] = []

    def check(spec: Any, gcase: Any, ctx: Any, accept: str) -> Record:
        calls.append("check")
        return first if len(calls) == 1 or again else _record(Category.PASSED)

    freed: list[bool] = []
    monkeypatch.setattr(golden_plugin, "check_golden", check)
    monkeypatch.setattr(ew, "free_memory", lambda: freed.append(True))
    ctx = type("Ctx", (), {"options": dataclasses.replace(_opts(), native=True)})()
    record = golden_plugin._check_on_shared_gpu(None, None, ctx, "accept")
    assert calls == ["check", "check"] and freed == [True]
    assert record.fields["retried_alone"]["first_message"] == "AcceleratorError: CUDA error: out of memory"
    if again:
        assert record.category is Category.RUNTIME_ERROR
        assert record.message.startswith("ran out of memory alone")
    else:
        assert record.category is Category.PASSED

    # On a CPU run nothing is locked and nothing retried: out of memory is the verdict at once.
    calls.clear()
    ctx.options = _opts()
    assert golden_plugin._check_on_shared_gpu(None, None, ctx, "accept") is first and calls == ["check"]
