"""Interpreter gaps: the libdevice shim, the bf16 dot widening, the fp8-conversion rule and bf16
arithmetic (real kernels in tests/interp_kernels/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from checker import interpreter
from checker.categories import Category
from checker.results.jsonl import read_records


def test_fp8_conversion_rule() -> None:
    cast = "x = tl.cast(v_0, tl.float8e4nv)\n"
    assert interpreter.unsupported_reason(cast, {torch.float32}) is not None
    # Helion's identity casts around fp8 dots: inputs already fp8.
    assert interpreter.unsupported_reason(cast, {torch.float8_e4m3fn, torch.float32}) is None
    assert interpreter.unsupported_reason("y = tl.dot(a, b)\n", {torch.bfloat16}) is None


def test_unknown_libdevice_function_is_an_interpreter_gap() -> None:
    with pytest.raises(interpreter.InterpreterGap, match=r"libdevice\.lgamma"):
        _ = interpreter.LIBDEVICE_SHIM.lgamma
    assert callable(interpreter.LIBDEVICE_SHIM.rsqrt)
    assert callable(interpreter.LIBDEVICE_SHIM.tanh)  # 2 sigmoid(2x) - 1: geglu runs on CPU


# --- bf16 arithmetic under the interpreter ------------------------------------------------------
#
# Each kernel runs in a subprocess: TRITON_INTERPRET must be set before triton is imported, and
# this process may have imported triton without it (on a GPU machine the plugin leaves it unset).

KERNELS = Path(__file__).parent / "interp_kernels"

#: Cases of interp_kernels/bf16_ops.py that Triton 3.6's interpreter gets wrong on its own.
BROKEN_WITHOUT_PATCH = [
    "sum",
    "add",
    "mul_scalar",
    "int32_to_bf16",
    "fp32_to_bf16",
    "fp16_to_bf16",
    "less",
    "select_negate",
    "full_constant",
    "reduce_max",
    "associative_scan",
    "atomic_add",
]
#: Cases the semantic layer already routes through an exact bf16 -> fp32 cast: guards only.
FAITHFUL_WITHOUT_PATCH = ["bf16_to_int32", "bf16_to_fp16"]


def _run_bf16_ops(*flags: str) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, str(KERNELS / "bf16_ops.py"), *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent.parent,
        timeout=300,
        check=True,
    )
    results: dict[str, dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


@pytest.fixture(scope="module")
def patched() -> dict[str, dict[str, Any]]:
    return _run_bf16_ops()


@pytest.fixture(scope="module")
def unpatched() -> dict[str, dict[str, Any]]:
    return _run_bf16_ops("--no-patch")


def test_bf16_cases_are_all_listed(patched: dict[str, dict[str, Any]]) -> None:
    assert sorted(patched) == sorted(BROKEN_WITHOUT_PATCH + FAITHFUL_WITHOUT_PATCH)


@pytest.mark.parametrize("case", BROKEN_WITHOUT_PATCH)
def test_bf16_op_matches_gpu_rounding(
    case: str, patched: dict[str, dict[str, Any]], unpatched: dict[str, dict[str, Any]]
) -> None:
    assert patched[case]["ok"], patched[case]
    # If this fails, Triton fixed the gap: the matching patch in checker/interpreter.py can go.
    assert not unpatched[case]["ok"], unpatched[case]


@pytest.mark.parametrize("case", FAITHFUL_WITHOUT_PATCH)
def test_bf16_cast_via_fp32_stays_faithful(
    case: str, patched: dict[str, dict[str, Any]], unpatched: dict[str, dict[str, Any]]
) -> None:
    assert patched[case]["ok"] and unpatched[case]["ok"], (patched[case], unpatched[case])


def test_bf16_rounding_helpers() -> None:
    # fp32 -> bf16: nearest even on random bit patterns, as torch's CPU conversion.
    bits = np.random.default_rng(0).integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    ours = interpreter.to_bf16_bits(values)
    theirs = torch.from_numpy(values.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    finite = ~np.isnan(values)
    assert np.array_equal(ours[finite], theirs[finite])
    assert np.isnan(interpreter.bf16_bits_to_f32(ours[~finite])).all()
    # fp64 -> bf16 rounds once: 1 + 2**-8 + 2**-40 is just above a tie (two roundings via fp32
    # would make it the tie and round down to 1.0).
    wide = interpreter.bf16_bits_to_f32(interpreter.to_bf16_bits(np.array([1 + 2**-8 + 2**-40, 1 + 2**-8])))
    assert wide.tolist() == [1 + 2**-7, 1.0]
    with pytest.raises(interpreter.InterpreterGap, match="64-bit integer"):
        interpreter.to_bf16_bits(np.array([2**60], dtype=np.int64))


def test_true_bf16_accumulation_still_fails_on_cpu(pytester: pytest.Pytester) -> None:
    """A kernel that accumulates in bf16 is a numerical mismatch under the patched interpreter;
    the same kernel accumulating in fp32 passes."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    shutil.copy(KERNELS / "bf16_accumulate.py", pytester.path / "kernels" / "bf16_accumulate.py")
    result = pytester.runpytest_subprocess(
        "--device", "cpu", "--shapes", "small", "--configs", "0", "--compile", "off", "-p", "no:xdist"
    )
    records = {r.case.kernel: r for r in read_records(pytester.path / "reports" / "results.jsonl")}
    assert set(records) == {"bf16_acc_sum", "fp32_acc_sum"}, result.stdout.str()
    assert records["fp32_acc_sum"].category is Category.PASSED, records["fp32_acc_sum"].message
    bad = records["bf16_acc_sum"]
    assert bad.category is Category.NUMERICAL_MISMATCH, bad.message
    # The error is bf16 stagnation (~1/3 of the sum lost), not garbage from integer arithmetic.
    assert bad.comparison is not None and 0.1 < bad.comparison.max_rel_err < 0.6, bad.comparison
