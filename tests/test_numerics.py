"""Comparison order and false-pass guards of checker.numerics."""

from __future__ import annotations

import math

import pytest
import torch

from checker.model import Category
from checker.numerics import DEFAULT_TOLERANCES, compare, tolerance_for
from checker.spec import Tolerance

TOL = Tolerance(1e-3, 1e-5, "test")


def _ref(n: int = 64) -> torch.Tensor:
    return torch.linspace(-3.0, 5.0, n, dtype=torch.float64)


def test_within_tolerance_passes_with_statistics() -> None:
    ref = _ref()
    verdict = compare(ref.to(torch.float16), ref, torch.float16, TOL)
    assert verdict.category is Category.PASSED
    assert verdict.comparison is not None
    assert verdict.comparison.mismatches == 0 and verdict.comparison.numel == 64
    assert 0 < verdict.comparison.max_abs_err < 5e-3


def test_one_element_off_is_found_with_its_index() -> None:
    ref = _ref()
    out = ref.to(torch.float32).clone()
    out[17] += 0.5
    verdict = compare(out, ref, torch.float32, TOL)
    assert verdict.category is Category.NUMERICAL_MISMATCH
    assert verdict.comparison is not None
    assert verdict.comparison.mismatches == 1
    assert verdict.comparison.worst_index == (17,)
    assert verdict.comparison.worst_expected == pytest.approx(float(ref[17]))
    assert "1 of 64" in verdict.message


def test_shape_then_dtype_are_checked_first() -> None:
    ref = _ref()
    assert compare(ref[:10].float(), ref, torch.float32, TOL).category is Category.SHAPE_MISMATCH
    assert compare(ref.half(), ref, torch.float32, TOL).category is Category.DTYPE_MISMATCH


def test_nan_where_reference_is_finite_fails_even_with_huge_tolerance() -> None:
    ref = _ref()
    out = ref.float().clone()
    out[3] = math.nan
    verdict = compare(out, ref, torch.float32, Tolerance(1e9, 1e9, "loose"))
    assert verdict.category is Category.NONFINITE_MISMATCH


def test_matching_nan_and_inf_pass() -> None:
    ref = _ref()
    ref[0], ref[1] = math.nan, math.inf
    assert compare(ref.float(), ref, torch.float32, TOL).category is Category.PASSED
    out = ref.float().clone()
    out[1] = -math.inf
    assert compare(out, ref, torch.float32, TOL).category is Category.NONFINITE_MISMATCH


def test_all_zero_output_fails_even_within_atol() -> None:
    ref = torch.full((32,), 1e-4, dtype=torch.float64)
    verdict = compare(torch.zeros(32), ref, torch.float32, Tolerance(0.0, 1.0, "loose"))
    assert verdict.category is Category.NUMERICAL_MISMATCH
    assert "all zeros" in verdict.message


def test_tolerance_defaults_and_overrides() -> None:
    assert tolerance_for(torch.bfloat16) == DEFAULT_TOLERANCES[torch.bfloat16]
    assert (tolerance_for(torch.float32).rtol, tolerance_for(torch.float32).atol) == (1.3e-6, 1e-5)
    override = Tolerance(5e-2, 1e-2, "long reduction")
    assert tolerance_for(torch.bfloat16, {torch.bfloat16: override}) is override
