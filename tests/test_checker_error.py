"""The checker never blames a kernel for its own exception (issue 22, items 1 and 2).

Faults are injected into the checker's own code on the run path (tests/checker_faults/inject.py
patches it in every process that loads the kernel file) and the runs are real ``kcheck run``
subprocesses: the victim's cases must be ``checker-error`` records with the traceback, shown
first, failing the run with exit status 3, while the healthy kernel beside them still passes.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from invariant import check_run

from checker import blame, diagnostics
from checker.categories import EXIT_CHECKER_ERROR, Category
from checker.model import Record
from checker.spec import SpecError

INJECT = Path(__file__).parent / "checker_faults" / "inject.py"
ROOT = Path(__file__).resolve().parents[1]


def _kcheck(tmp_path: Path, where: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[Record]]:
    reports = tmp_path / "reports"
    env = {**os.environ, "KCHECK_TEST_INJECT": where, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "checker.cli",
            "run",
            str(INJECT),
            "--configs",
            "0",
            "--shapes",
            "small",
            f"--reports-dir={reports}",
            "-n",
            "0",
            *list(extra),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, check_run(reports, proc.returncode)


def _by_kernel(records: list[Record]) -> dict[str, Record]:
    return {r.case.kernel: r for r in records}


@pytest.mark.parametrize("isolate", ["on", "off"])
def test_a_fault_in_the_checkers_compare_step_is_a_checker_error(tmp_path: Path, isolate: str) -> None:
    proc, records = _kcheck(tmp_path, "compare", "--isolate", isolate)
    got = _by_kernel(records)
    victim, healthy = got["victim"], got["healthy"]
    assert victim.category is Category.CHECKER_ERROR, victim.message[:500]
    assert victim.fields["checker_frame"].startswith("checker/model.py:"), victim.fields
    assert victim.fields["exception"] == "TypeError"
    assert "Traceback (most recent call last)" in victim.message
    assert "bug in kcheck, not in the kernel" in victim.message
    assert healthy.category is Category.PASSED, healthy.message[:300]
    assert proc.returncode == EXIT_CHECKER_ERROR, proc.stdout[-2000:]
    # The terminal shows kcheck's own errors first, before any kernel's failure.
    assert "kcheck errors: 1 cases hit a bug in kcheck itself" in proc.stdout
    junit = ET.parse(tmp_path / "reports" / "junit.xml").getroot()
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == [victim.case.name]


def test_a_fault_on_the_supervising_side_is_a_checker_error(tmp_path: Path) -> None:
    proc, records = _kcheck(tmp_path, "supervisor", "--isolate", "on")
    got = _by_kernel(records)
    assert got["victim"].category is Category.CHECKER_ERROR, got["victim"].message[:500]
    assert got["victim"].fields["checker_frame"].startswith("checker/model.py:")
    assert got["healthy"].category is Category.PASSED
    assert proc.returncode == EXIT_CHECKER_ERROR


def test_a_kernel_reaching_modules_without_a_file_passes(tmp_path: Path) -> None:
    """The stage cache's walk over a kernel's globals met ``math`` without ``__file__`` on a
    distribution Python and failed every attention case; ``sys`` has none on every Python."""
    assert getattr(sys, "__file__", None) is None
    proc, records = _kcheck(tmp_path, "globals")
    got = _by_kernel(records)
    assert got["victim"].category is Category.PASSED, got["victim"].message[:800]
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_report_exits_3_and_the_comment_lists_kcheck_errors_first(tmp_path: Path) -> None:
    from checker.model import CaseId, Mode
    from checker.report.summary import render
    from checker.results.baseline import classify, exit_code
    from checker.results.merge import merge, read_shards

    def rec(kernel: str, category: Category, sig: str) -> Record:
        return Record(
            case=CaseId(kernel, (8,), "fp32", "default"),
            category=category,
            mode=Mode.INTERPRETER,
            target="sm_90",
            config=None,
            config_repr=None,
            toolchain={},
            duration_s=0.1,
            message=f"{category.value} happened",
            signature=sig,
            nodeid=f"k.py::{kernel}[8-fp32-default]",
        )

    records = [rec(f"mismatch{i}", Category.NUMERICAL_MISMATCH, "aaa") for i in range(5)]
    records.append(rec("bug", Category.CHECKER_ERROR, "bbb"))
    shard = tmp_path / "results.jsonl"
    shard.write_text("".join(r.to_json() + "\n" for r in records))
    # The baseline fails the same way: a checker-error is still new, never pre-existing.
    result = classify(merge(read_shards([shard])), merge(read_shards([shard])))
    assert exit_code(result) == EXIT_CHECKER_ERROR
    comment = render(result)
    assert comment.index("kcheck errors (a bug in the checker") < comment.index("bug[8-fp32-default]")
    assert "New failures" not in comment.split("kcheck errors")[0]
    # triage: the checker-error group first although the mismatch group is five times larger.
    from checker.results.group import triage
    from checker.triage.render import render_terminal

    bug = dataclasses.replace(records[-1], fields={"checker_frame": "checker/x.py:1 in f"})
    grouped = triage([("run", [*records[:-1], bug])])
    categories = [g.key.category for g in grouped.groups]
    assert categories[0] is Category.CHECKER_ERROR
    assert set(categories[1:]) == {Category.NUMERICAL_MISMATCH}
    assert "kcheck bug at: checker/x.py:1 in f" in render_terminal(grouped, width=200)


# --- the frame rule (checker.blame) on real exceptions ------------------------------------------


def _raise_in(path: str, source: str, **names: object) -> BaseException:
    """The exception ``source`` raises when compiled as if it lived at ``path``."""
    code = compile(source, path, "exec")
    try:
        exec(code, {"torch": torch, **names})
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


CHECKER_FILE = str(ROOT / "checker" / "execute.py")
KERNEL_FILE = str(ROOT / "kernels" / "softmax.py")


def test_an_exception_raised_in_checker_code_is_the_checkers() -> None:
    exc = _raise_in(CHECKER_FILE, "None.shape")
    found = blame.checker_fault(exc)
    assert found is not None and found.where.startswith("checker/execute.py:1 in <module>")
    assert diagnostics.classify(exc).category is Category.CHECKER_ERROR


def test_an_exception_raised_in_the_kernels_file_is_the_kernels() -> None:
    exc = _raise_in(KERNEL_FILE, "None.shape")
    assert blame.checker_fault(exc) is None
    assert diagnostics.classify(exc).category is Category.RUNTIME_ERROR


def test_torch_and_the_standard_library_are_transparent() -> None:
    # The checker called torch wrongly: torch's frames say nothing, the checker frame decides.
    exc = _raise_in(CHECKER_FILE, "torch.zeros(2) @ torch.zeros(3)")
    assert blame.checker_fault(exc) is not None
    exc = _raise_in(KERNEL_FILE, "import json; json.loads('{')")
    assert blame.checker_fault(exc) is None


def test_deliberate_and_device_errors_are_never_the_checkers() -> None:
    # Raised in checker code on purpose (a spec's fault), or by the device wherever it surfaces.
    assert blame.checker_fault(_raise_in(CHECKER_FILE, "raise E('kernel spec x: bad')", E=SpecError)) is None
    illegal = "raise RuntimeError('CUDA error: an illegal memory access was encountered')"
    assert blame.checker_fault(_raise_in(CHECKER_FILE, illegal)) is None
    oom = _raise_in(CHECKER_FILE, "raise E('CUDA out of memory.')", E=torch.OutOfMemoryError)
    assert blame.checker_fault(oom) is None
    assert blame.checker_fault(_raise_in(CHECKER_FILE, "raise MemoryError()")) is None
    # The same plain exception from checker code is the checker's.
    assert blame.checker_fault(_raise_in(CHECKER_FILE, "raise RuntimeError('oops')")) is not None


def test_a_passthrough_hook_is_judged_by_the_frames_around_it() -> None:
    """PoisonOutputs' __torch_function__ runs every torch call of a kernel's host code: an error
    of the kernel's torch call raised through it is the kernel's."""
    from checker.numerics import PoisonOutputs

    source = "with Poison():\n    torch.zeros(2).view(3)\n"
    code = compile(source, KERNEL_FILE, "exec")
    try:
        exec(code, {"torch": torch, "Poison": PoisonOutputs})
    except RuntimeError as exc:
        assert blame.culprit(exc) is not None
        assert blame.checker_fault(exc) is None, blame.culprit(exc)
    else:
        raise AssertionError("did not raise")


def test_site_packages_inside_the_standard_library_directory_are_not_transparent() -> None:
    """A pyenv or python.org build keeps site-packages under lib/pythonX.Y: Helion's and
    Triton's frames there are the case's, not the standard library's."""
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    fake = os.path.join(stdlib, "site-packages", "helion", "_compiler", "x.py")
    exc = _raise_in(fake, "None.shape")
    found = blame.culprit(exc)
    assert found is not None and not found.checker


def test_frames_of_no_file_are_transparent() -> None:
    # The <string> frame is skipped: the frame that called exec() decides.
    found = blame.culprit(_raise_in("<string>", "None.shape"))
    assert found is not None and found.path == os.path.realpath(__file__) and found.function == "_raise_in"
