"""The fault-injection kernels (tests/faults/faults.py) under case isolation, on CPU.

Each fault must produce its category for real (an endless loop, a segfaulting process, NaN,
zeros, a wrong shape or dtype), and the healthy case that follows each fault must still pass
in the same run: a recycled worker blames nothing else. The GPU-only faults (out-of-bounds
store, device assert) are covered by the GPU run in docs/gpu-runs.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
from pathlib import Path

import pytest
from invariant import check_run

from checker.categories import Category

FAULTS = Path(__file__).parent / "faults" / "faults.py"


def _expected() -> dict[str, tuple[Category, Category | None]]:
    spec = importlib.util.spec_from_file_location("kcheck_faults_expected", FAULTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.EXPECTED)


def test_each_fault_gets_its_category_and_the_next_case_passes(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    shutil.copy(FAULTS, pytester.path / "kernels" / "faults.py")
    # In a subprocess: an in-process re-run re-imports torch modules that register custom ops
    # once per process (seen on the GPU machine's torch build).
    result = pytester.runpytest_subprocess(
        *("--isolate", "on", "--run-timeout", "20", "--shapes", "small", "--configs", "0"),
        *("-p", "no:xdist", "-p", "no:randomly"),
    )
    records = check_run(pytester.path / "reports", result.ret)
    outcomes = result.parseoutcomes()
    # One record per collected case, faults included: nothing lost when a worker dies.
    assert len(records) == sum(outcomes.get(k, 0) for k in ("passed", "failed", "skipped"))
    by_kernel = {r.case.kernel: r for r in records}
    for name, (_, on_cpu) in _expected().items():
        if on_cpu is None:
            continue
        assert by_kernel[name].category is on_cpu, (name, by_kernel[name].message[:300])
        after = by_kernel[f"healthy_after_{name}"]
        assert after.category is Category.PASSED, (name, after.message[:300])
    assert [r.case.kernel for r in records].index("healthy_after_segfault") == (
        [r.case.kernel for r in records].index("segfault") + 1
    )
    assert by_kernel["segfault"].fields["signal"] == "SIGSEGV"
    assert by_kernel["endless"].fields["timeout_s"] == 20
    # Killed 20 s into its run, not after 20 s plus the compile's allowance.
    assert by_kernel["endless"].fields["seconds"] < 60, by_kernel["endless"].fields
    one_ulp = by_kernel["one_ulp"].comparison
    assert one_ulp is not None and one_ulp.max_abs_err > 0  # compared, and within tolerance


def test_a_prestarted_case_worker_that_died_is_replaced_before_the_first_case() -> None:
    """The plugin starts the case worker while it collects (CaseRunner.prestart). One that dies
    before the first case (here: SIGKILL, as the OOM killer would) costs no case: the first
    check finds it dead, starts and health-checks a fresh worker, and the case passes there."""
    from checker.model import CaseId
    from checker.run_options import RunOptions
    from checker.targets import get_target

    # The module sys.modules holds: after an in-process pytester run, `from checker import
    # exec_worker` may give an older module object, whose job classes do not pickle.
    exec_worker = importlib.import_module("checker.exec_worker")
    opts = RunOptions(0, get_target("sm_90"), native=False, n_configs=0, cache_dir=None)
    runner = exec_worker.CaseRunner(opts, run_timeout=120)
    try:
        runner.prestart()
        first = runner._worker.pid
        assert first is not None and runner._worker.pending
        os.kill(first, signal.SIGKILL)
        case = CaseId("healthy_after_segfault", (1024,), "fp32", "default")
        record = runner.check(str(FAULTS), "healthy_after_segfault", case)
        assert record.category is Category.PASSED, record.message[:300]
        assert runner._worker.pid not in (None, first) and not runner._worker.pending
    finally:
        runner.close()
