"""The rounded-operand tolerance presets (``fp16-operand``, ``bf16-operand``; issue 26, item 5)
on a real kernel: tests/numerics_kernels/rounded_operand.py, attention that rounds P to the
input dtype before the P@V dot, run by the checker under the interpreter on CPU.

Without the preset the rounding of P fails the default fp16/bf16 tolerance (on the elements
whose outputs are near zero); with it the same kernel passes, and the same kernel launched with
a wrong scale (1/D for 1/sqrt(D)) still fails.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from checker.categories import Category
from checker.numerics import CONFIDENCE, DEFAULT_TOLERANCES, tolerance_for
from checker.results.jsonl import read_records

TESTS = Path(__file__).parent


def test_the_preset_adds_confidence_times_the_unit_roundoff_of_one_rounded_operand() -> None:
    """4 * u of fp16 (2**-11) or bf16 (2**-8): one operand per product is rounded, where a tf32
    dot rounds both (4 * 2 * u)."""
    presets = ((torch.float16, "fp16-operand", 2.0**-11), (torch.bfloat16, "bf16-operand", 2.0**-8))
    for dtype, name, u in presets:
        tol = tolerance_for(dtype, dot_precision=name)
        base = DEFAULT_TOLERANCES[dtype]
        assert tol.rtol == pytest.approx(base.rtol + CONFIDENCE * u)
        assert tol.atol == pytest.approx(base.atol + CONFIDENCE * u)
        assert f"{name} dot operands 4*1*u_op" in tol.reason
        with_k = tolerance_for(dtype, dot_precision=name, reduction_length=64)
        assert with_k.atol == pytest.approx(tol.atol + CONFIDENCE * math.sqrt(64) * 2.0**-23)
    assert "tf32 dot operands 4*2*u_op" in tolerance_for(torch.float32, dot_precision="tf32").reason


def test_attention_rounding_p_needs_the_preset_and_a_wrong_constant_still_fails(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nkcheck_kernel_paths = suite\n")
    (tmp_path / "suite").mkdir()
    shutil.copy(TESTS / "numerics_kernels" / "rounded_operand.py", tmp_path / "suite" / "rounded_operand.py")
    env = {k: v for k, v in os.environ.items() if k != "KCHECK_RUN_DIR"}
    argv = [sys.executable, "-m", "checker.cli", "run", "suite", "--configs", "0", "-n", "0"]
    argv += ["--device", "cpu", "-k", "64x64x32"]
    proc = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False, env=env
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = {r.case.name: r for r in read_records(tmp_path / "reports" / "results.jsonl")}
    for dtype, preset in (("fp16", "fp16-operand"), ("bf16", "bf16-operand")):
        default = got[f"attn_default[64x64x32-{dtype}-bm16]"]
        rounded = got[f"attn_preset[64x64x32-{dtype}-bm16]"]
        wrong = got[f"attn_wrong_scale[64x64x32-{dtype}-bm16]"]
        assert default.category is Category.NUMERICAL_MISMATCH, default.message
        assert rounded.category is Category.PASSED, rounded.message
        assert wrong.category is Category.NUMERICAL_MISMATCH, wrong.message
        assert default.comparison is not None and rounded.comparison is not None
        assert wrong.comparison is not None
        # The same rounding error, judged under two tolerances: under the default's atol it is
        # a failure, under the preset's it is not.
        assert default.comparison.max_abs_err > default.comparison.atol
        assert rounded.comparison.max_abs_err < rounded.comparison.atol
        assert f"{preset} dot operands 4*1*u_op" in rounded.comparison.tolerance_source
        # The wrong scale errs by far more than the preset allows.
        assert wrong.comparison.max_abs_err > 10 * wrong.comparison.atol
