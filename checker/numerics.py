"""Tolerance policy and output comparison.

Defaults are torch.testing.assert_close's per-dtype (rtol, atol) (PyTorch docs,
``torch.testing.assert_close``): fp32 (1.3e-6, 1e-5), fp16 (1e-3, 1e-5), bf16 (1.6e-2, 1e-5).
fp8 outputs get rtol of one unit in the last place of the format (2**-3 for e4m3's 3 mantissa
bits, 2**-2 for e5m2) so they are neither exact by accident nor unchecked. A kernel spec may
override per input dtype, with a reason (spec.Tolerance).

Comparison order is fixed: shape, dtype, non-finite positions, then tolerance. The reference is
float64, so errors are measured against the exact-ish value, not another rounded one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from checker.model import Category, Comparison
from checker.spec import Tolerance

DEFAULT_TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float32: Tolerance(1.3e-6, 1e-5, "torch.testing.assert_close default"),
    torch.float16: Tolerance(1e-3, 1e-5, "torch.testing.assert_close default"),
    torch.bfloat16: Tolerance(1.6e-2, 1e-5, "torch.testing.assert_close default"),
    torch.float8_e4m3fn: Tolerance(2.0**-3, 1e-3, "one ulp of e4m3 (3 mantissa bits)"),
    torch.float8_e5m2: Tolerance(2.0**-2, 1e-3, "one ulp of e5m2 (2 mantissa bits)"),
}


def tolerance_for(dtype: torch.dtype, overrides: Mapping[torch.dtype, Tolerance] | None = None) -> Tolerance:
    """The tolerance for outputs of a case swept at ``dtype``: the spec's override or default.

    Raises:
        KeyError: no default exists for ``dtype`` and the spec gives none.
    """
    if overrides and dtype in overrides:
        return overrides[dtype]
    return DEFAULT_TOLERANCES[dtype]


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing one output: the category, its statistics and a one-line message."""

    category: Category
    message: str
    comparison: Comparison | None = None


def compare(
    actual: torch.Tensor, expected: torch.Tensor, expected_dtype: torch.dtype, tol: Tolerance
) -> Verdict:
    """Compare a kernel output with its float64 reference.

    Args:
        actual: the kernel's output (any device, any dtype).
        expected: the reference output, float64 (or the reference's dtype for integer outputs).
        expected_dtype: the dtype the kernel must return.
        tol: rtol/atol applied as ``|a - e| <= atol + rtol * |e|``.
    """
    if tuple(actual.shape) != tuple(expected.shape):
        return Verdict(
            Category.SHAPE_MISMATCH,
            f"output shape {tuple(actual.shape)}, expected {tuple(expected.shape)}",
        )
    if actual.dtype != expected_dtype:
        return Verdict(Category.DTYPE_MISMATCH, f"output dtype {actual.dtype}, expected {expected_dtype}")
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    numel = e.numel()
    a_nf, e_nf = ~torch.isfinite(a), ~torch.isfinite(e)
    # NaN must sit where the reference has NaN; +-inf must match exactly.
    nf_bad = (a_nf | e_nf) & ~((torch.isnan(a) & torch.isnan(e)) | (a == e))
    finite = ~(a_nf | e_nf)
    diff = torch.where(finite, (a - e).abs(), torch.zeros_like(a))
    allowed = tol.atol + tol.rtol * e.abs()
    bad = (finite & (diff > allowed)) | nf_bad
    rel = torch.where(finite & (e != 0), diff / e.abs(), torch.zeros_like(a))
    mismatches = int(bad.sum())
    worst_score = torch.where(bad, torch.full_like(a, float("inf")), diff - allowed)
    worst_flat = int(torch.argmax(worst_score.reshape(-1))) if numel else 0
    worst_index = (
        tuple(int(i) for i in torch.unravel_index(torch.tensor(worst_flat), e.shape)) if numel else None
    )
    stats = Comparison(
        max_abs_err=float(diff.max()) if numel else 0.0,
        max_rel_err=float(rel.max()) if numel else 0.0,
        mismatches=mismatches,
        numel=numel,
        rtol=tol.rtol,
        atol=tol.atol,
        worst_index=worst_index,
        worst_actual=float(a.reshape(-1)[worst_flat]) if numel else None,
        worst_expected=float(e.reshape(-1)[worst_flat]) if numel else None,
    )
    if int(nf_bad.sum()):
        return Verdict(
            Category.NONFINITE_MISMATCH,
            f"{int(nf_bad.sum())} of {numel} elements non-finite where the reference is not "
            f"(or the reverse); first at {worst_index}: got {stats.worst_actual}, expected "
            f"{stats.worst_expected}",
            stats,
        )
    if numel and bool((a == 0).all()) and bool((e != 0).any()):
        return Verdict(
            Category.NUMERICAL_MISMATCH,
            "output is all zeros but the reference is not (false-pass guard)",
            stats,
        )
    if mismatches:
        return Verdict(
            Category.NUMERICAL_MISMATCH,
            f"{mismatches} of {numel} elements ({stats.mismatch_pct:.3g}%) outside rtol={tol.rtol:g} "
            f"atol={tol.atol:g}; max abs err {stats.max_abs_err:.3g}, max rel err "
            f"{stats.max_rel_err:.3g}; worst at {worst_index}: got {stats.worst_actual!r}, "
            f"expected {stats.worst_expected!r}",
            stats,
        )
    return Verdict(Category.PASSED, "", stats)
