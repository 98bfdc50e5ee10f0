"""Reproducers of interpreter cases give the checker's verdict (issue 26, item 4).

One real CPU run of tests/repro_kernels/bf16_triton.py (a plain Triton bf16 row sum whose mask
drops the last column) records a ``numerical-mismatch`` under the interpreter, made with the
checker's bf16 fixes. Its reproducer must apply the same fixes: before, it ran Triton's own
interpreter, which sums bf16 storage bits, and reported a bogus error under the record's name.
A reproducer is ``REPRODUCED`` only when both the category and the signature are the record's;
otherwise it says ``NOT REPRODUCED`` with both, exit 3.
"""

from __future__ import annotations

import dataclasses
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checker.categories import Category
from checker.model import Record
from checker.results.jsonl import read_records
from checker.triage.repro import write_repro

TESTS = Path(__file__).parent
ROOT = TESTS.parent
CASE = "row_sum_bf16[16x128-bf16-b128]"


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished kcheck run: its directory, the kernel file and the case's record."""

    path: Path
    kernel_file: Path
    record: Record


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("repro-bf16")
    (root / "pytest.ini").write_text("[pytest]\nkcheck_kernel_paths = suite\n")
    (root / "suite").mkdir()
    kernel_file = root / "suite" / "bf16_triton.py"
    shutil.copy(TESTS / "repro_kernels" / "bf16_triton.py", kernel_file)
    env = {k: v for k, v in os.environ.items() if k != "KCHECK_RUN_DIR"}
    argv = [sys.executable, "-m", "checker.cli", "run", "suite", "--configs", "0", "-n", "0"]
    argv += ["--device", "cpu", "-k", "16x128"]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = {r.case.name: r for r in read_records(root / "reports" / "results.jsonl")}
    record = records[CASE]
    assert record.category is Category.NUMERICAL_MISMATCH and record.mode == "interpreter"
    assert record.signature and record.comparison is not None
    # The missing column's values, not bf16 storage bits summed as integers (~1e37).
    assert 0.05 < record.comparison.max_abs_err < 2.0
    return Run(root, kernel_file, record)


def _execute(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a reproducer in a fresh interpreter. A plain Triton case's host module imports
    checker.triton_launch (docs/kernel-spec.md), so this tree's checker is on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTHONPATH")}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, str(path)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, env=env, check=False)


def _verdict(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("REPRODUCED", "NOT ", "CANNOT"))]
    assert len(lines) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return lines[0]


def test_a_bf16_interpreter_case_reproduces_exactly_its_record(run: Run, tmp_path: Path) -> None:
    """The file runs the case with the checker's interpreter fixes: the same category, the same
    signature (else it would not say REPRODUCED) and the very message of the record, numbers
    included (max abs err, worst element)."""
    path = write_repro(run.record, run.kernel_file, tmp_path / "repro.py")
    module = runpy.run_path(str(path), run_name="kcheck_repro_under_test")
    assert "def _patch_bf16_arith(" in module["INTERPRETER_SOURCE"]
    proc = _execute(path, tmp_path)
    first = run.record.message.splitlines()[0]
    assert _verdict(proc) == f"REPRODUCED numerical-mismatch: {first}", proc.stderr[-3000:]
    assert proc.returncode == 1
    assert "CAVEAT" not in proc.stderr


def test_a_different_signature_is_not_reproduced(run: Run, tmp_path: Path) -> None:
    """The same category with another signature is another failure: NOT REPRODUCED, naming the
    signature seen here and the record's, exit 3."""
    record = dataclasses.replace(run.record, signature="0123456789ab")
    path = write_repro(record, run.kernel_file, tmp_path / "other_signature.py")
    proc = _execute(path, tmp_path)
    verdict = _verdict(proc)
    assert verdict.startswith(
        f"NOT REPRODUCED: got numerical-mismatch (signature {run.record.signature}), "
        "recorded: numerical-mismatch (signature 0123456789ab): "
    ), verdict
    assert proc.returncode == 3


def test_a_different_category_is_not_reproduced(run: Run, tmp_path: Path) -> None:
    """A record that says nonfinite-mismatch, where the kernel's sums are finite but wrong."""
    record = dataclasses.replace(run.record, category=Category.NONFINITE_MISMATCH)
    path = write_repro(record, run.kernel_file, tmp_path / "other_category.py")
    proc = _execute(path, tmp_path)
    verdict = _verdict(proc)
    assert verdict.startswith(
        f"NOT REPRODUCED: got numerical-mismatch (signature {run.record.signature}), "
        f"recorded: nonfinite-mismatch (signature {run.record.signature}): "
    ), verdict
    assert proc.returncode == 3
