"""Tolerance policy, output comparison and the false-pass guards.

The policy (every number and its source; the long form is docs/numerics.md):

* **Output rounding**, by the dtype the kernel returns. fp32, fp16, bf16: the (rtol, atol) of
  ``torch.testing.assert_close`` (PyTorch docs, "torch.testing.assert_close", default tolerances
  table): fp32 (1.3e-6, 1e-5), fp16 (1e-3, 1e-5), bf16 (1.6e-2, 1e-5). fp8 (OCP 8-bit Floating
  Point Specification (OFP8) rev. 1.0, 2023: e4m3 has 3 mantissa bits, e5m2 has 2) follows
  assert_close's fp16 rule, rtol = 2u (fp16: 2 * 2**-11 ~ 1e-3): e4m3 2**-3, e5m2 2**-2, and
  atol = the smallest subnormal (e4m3 2**-9, e5m2 2**-16), twice the largest rounding error
  below the smallest normal. fp8 outputs are converted exactly to float64 before comparing, so
  they are never compared bit for bit.
* **Dot operands** rounded inside the kernel beyond what the reference sees: a tf32 dot
  (NVIDIA A100 whitepaper, 2020: tf32 keeps fp32's 8-bit exponent and fp16's 10-bit mantissa)
  perturbs each product a*b by at most 2*u_op relatively (first order, Higham 2002 "Accuracy
  and Stability of Numerical Algorithms", 2nd ed., section 2.2); with outputs of order one this
  adds ``CONFIDENCE * 2 * u_op`` to both rtol and atol. u_op = 2**-10, tf32's unit roundoff
  under round-toward-zero: tensor cores read fp32 registers as tf32 by dropping the low 13 bits.
* **One operand rounded to the input dtype inside the kernel** (``fp16-operand``,
  ``bf16-operand``: attention's P cast to fp16/bf16 before the P@V dot, V already in that
  dtype): each product p*v carries relative error at most u_op, the unit roundoff of fp16
  (2**-11) or bf16 (2**-8) under round to nearest, so the output sum_j p_j v_j / l errs by at
  most u_op * sum_j (p_j / l) |v_j| <= u_op * max |v| (p_j / l are probabilities); with values
  of order one this adds ``CONFIDENCE * 1 * u_op`` to rtol and atol (docs/numerics.md).
* **Accumulation over a reduction of length K** (K of a matmul, the normalized dimension of a
  norm, the summed dimension of a sum), taken from the spec's ``reduction_length``: rounding
  errors of mean-zero partial sums behave like a random walk, so the error grows like
  sqrt(K) * u_acc (Higham & Mary 2019, "A New Approach to Probabilistic Rounding Error
  Analysis", SIAM J. Sci. Comput. 41(5), Theorem 3.1: lambda * sqrt(n) * u in place of the
  deterministic gamma_n = n*u / (1 - n*u) of Higham 2002, Lemma 3.1). The policy adds
  ``CONFIDENCE * sqrt(K) * u_acc`` to rtol and atol; inputs are scaled so outputs are of order
  one (every bundled make_inputs does), which makes the absolute term meaningful. u_acc:
  2**-23 for fp32 accumulation (round-toward-zero unit roundoff: NVIDIA tensor cores truncate
  inside an MMA, Fasi, Higham, Mikaitis & Pranesh 2021, "Numerical behavior of NVIDIA tensor
  cores", PeerJ Comput. Sci. 7:e330), 2**-13 for fp8 MMAs with fast accumulation (DeepSeek-AI
  2024, "DeepSeek-V3 Technical Report", section 3.3.2: H800 fp8 GEMMs retain about 14 bits).
* ``CONFIDENCE = 4``: measured, the sum kernel's sequential fp32 accumulation over 2**20 terms
  is off by 0.65 * sqrt(K) * 2**-24 at worst (kernels/sum.py), so 4 * sqrt(K) * 2**-23 leaves a
  12x margin; a tf32 matmul of unit-scale outputs errs with std ~0.8 * 2**-11 per element (5.5
  std over 16M elements ~ 2.2e-3), against which 4 * 2 * 2**-10 = 7.8e-3 leaves ~3.5x.
* **Overrides**: a spec's per-dtype ``Tolerance`` (with its reason) replaces the whole policy
  for that dtype.

The applied tolerance is returned as a :class:`~checker.spec.Tolerance` whose ``reason`` says
where it came from; :func:`compare` puts both into the record's ``Comparison``.

Comparison order is fixed: shape, dtype, non-finite positions, then tolerance. The reference is
float64, so errors are measured against the exact-ish value, not another rounded one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from checker import blame
from checker.categories import Category
from checker.model import Comparison
from checker.spec import DOT_PRECISIONS, DTYPE_NAMES, KernelSpec, Output, Tolerance, is_exact_dtype

_ASSERT_CLOSE = "torch.testing.assert_close default"


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format's precision.

    Attributes:
        mantissa_bits: explicit fraction bits (precision p minus the implicit bit).
        min_subnormal: the smallest positive subnormal, the spacing of values below the
            smallest normal.
        source: where the numbers come from.
    """

    name: str
    mantissa_bits: int
    min_subnormal: float
    source: str

    @property
    def unit_roundoff(self) -> float:
        """u = 2**-p under round-to-nearest (Higham 2002, section 2.1); twice that when truncating."""
        return 2.0 ** -(self.mantissa_bits + 1)


FORMATS: dict[str, FloatFormat] = {
    "fp32": FloatFormat("fp32", 23, 2.0**-149, "IEEE 754-2019 binary32"),
    "tf32": FloatFormat("tf32", 10, 2.0**-126, "NVIDIA A100 whitepaper (2020): 10-bit mantissa"),
    "fp16": FloatFormat("fp16", 10, 2.0**-24, "IEEE 754-2019 binary16"),
    "bf16": FloatFormat("bf16", 7, 2.0**-133, "bfloat16: binary32's exponent, 7-bit mantissa"),
    "fp8e4m3": FloatFormat("fp8e4m3", 3, 2.0**-9, "OCP OFP8 spec rev. 1.0 (2023), E4M3"),
    "fp8e5m2": FloatFormat("fp8e5m2", 2, 2.0**-16, "OCP OFP8 spec rev. 1.0 (2023), E5M2"),
}


def _fp8_default(name: str) -> Tolerance:
    fmt = FORMATS[name]
    return Tolerance(
        2 * fmt.unit_roundoff,
        fmt.min_subnormal,
        f"{name} output: rtol 2u = 2**-{fmt.mantissa_bits}, atol smallest subnormal ({fmt.source})",
    )


#: Output-rounding tolerance by the dtype the kernel returns.
DEFAULT_TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float32: Tolerance(1.3e-6, 1e-5, _ASSERT_CLOSE),
    torch.float16: Tolerance(1e-3, 1e-5, _ASSERT_CLOSE),
    torch.bfloat16: Tolerance(1.6e-2, 1e-5, _ASSERT_CLOSE),
    torch.float8_e4m3fn: _fp8_default("fp8e4m3"),
    torch.float8_e5m2: _fp8_default("fp8e5m2"),
}

#: Multiplier of the rounding-error terms: lambda of Higham & Mary's probabilistic bound, set
#: from measurements (module docstring).
CONFIDENCE = 4.0


def tolerance_for(
    dtype: torch.dtype,
    overrides: Mapping[torch.dtype, Tolerance] | None = None,
    *,
    output_dtype: torch.dtype | None = None,
    dot_precision: str = "ieee",
    reduction_length: int | None = None,
) -> Tolerance:
    """The tolerance for the outputs of a case swept at ``dtype``, with its provenance.

    Args:
        dtype: the swept dtype (the key of overrides and dot precisions).
        overrides: the spec's per-dtype overrides; one for ``dtype`` replaces the policy.
        output_dtype: the dtype the kernel returns (defaults to ``dtype``); picks the
            output-rounding default.
        dot_precision: a key of :data:`checker.spec.DOT_PRECISIONS`.
        reduction_length: K, the number of terms each output accumulates; None for none.

    Returns:
        ``Tolerance(rtol, atol, reason)``; ``reason`` says where the numbers came from:
        ``override for <dtype>: <reason>``, or the output default plus each added term.
        Integer and bool outputs are compared exactly.

    Raises:
        KeyError: no default exists for the output dtype, or the dot precision is unknown.
    """
    out = output_dtype or dtype
    if is_exact_dtype(out):
        # Integer and bool outputs (indices, counts, masks) have no rounding: exact, whatever
        # an override keyed by the swept dtype says (it was meant for floating outputs).
        return Tolerance(0.0, 0.0, f"{DTYPE_NAMES.get(out, str(out))} output: exact")
    if overrides and dtype in overrides:
        tol = overrides[dtype]
        return replace(tol, reason=f"override for {DTYPE_NAMES.get(dtype, str(dtype))}: {tol.reason}")
    base = DEFAULT_TOLERANCES[out]
    prec = DOT_PRECISIONS[dot_precision]
    added = 0.0
    parts = [f"default for {DTYPE_NAMES.get(out, str(out))} output ({base.reason})"]
    if prec.operand_u:
        n = prec.rounded_operands
        term = CONFIDENCE * n * prec.operand_u
        added += term
        parts.append(f"{prec.name} dot operands {CONFIDENCE:g}*{n}*u_op = {term:.3g}")
    if reduction_length is not None and reduction_length > 1:
        term = CONFIDENCE * math.sqrt(reduction_length) * prec.accumulate_u
        added += term
        parts.append(
            f"scaled by K={reduction_length}: {CONFIDENCE:g}*sqrt(K)*u_acc = {term:.3g} "
            f"(u_acc {prec.accumulate_u:.3g}, {prec.name})"
        )
    return Tolerance(base.rtol + added, base.atol + added, " + ".join(parts))


def case_tolerance(
    spec: KernelSpec,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    output: Output | None = None,
    output_dtype: torch.dtype | None = None,
) -> Tolerance:
    """The tolerance the spec's policy gives one (shape, dtype), see :func:`tolerance_for`.

    Args:
        spec: the kernel spec (spec-level overrides, dot precision, reduction length).
        shape: the case's problem shape.
        dtype: the swept dtype.
        output: the :class:`~checker.spec.Output` compared, if the spec declares one: its
            overrides take precedence over the spec's and its ``reduction_length`` replaces the
            spec's.
        output_dtype: the dtype the compared output must have (default: the spec's
            ``output_dtype(dtype)``).
    """
    overrides = {**spec.tolerances, **(output.tolerances if output is not None else {})}
    reduction = spec.reduction_length
    if output is not None and output.reduction_length is not None:
        reduction = output.reduction_length
    return tolerance_for(
        dtype,
        overrides,
        output_dtype=output_dtype or spec.output_dtype(dtype),
        dot_precision=spec.dot_precision.get(dtype, "ieee"),
        reduction_length=reduction(tuple(shape)) if reduction else None,
    )


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing one output: the category, its statistics and a one-line message."""

    category: Category
    message: str
    comparison: Comparison | None = None


def compare(
    actual: torch.Tensor, expected: torch.Tensor, expected_dtype: torch.dtype, tol: Tolerance
) -> Verdict:
    """Compare a kernel output with its float64 reference, in a fixed order.

    Order: shape (no statistics possible), dtype (statistics still computed on the values),
    non-finite positions (NaN where the reference has NaN, each inf equal to the reference's),
    the all-zero-output guard, then ``|a - e| <= atol + rtol * |e|`` elementwise. Both sides are
    converted to float64 first; every fp8/fp16/bf16/fp32 value is exact in float64.

    Integer and bool outputs (``expected_dtype`` not floating) are compared exactly, as int64
    (an int64 beyond 2**53 is not exact in float64), whatever ``tol`` says; a bool output is
    read by its bytes, so the poison byte :data:`BOOL_POISON` of an element the kernel never
    wrote differs from both False (0) and True (1).

    Args:
        actual: the kernel's output (any device, any dtype).
        expected: the reference output, float64 (or the reference's dtype for integer outputs).
        expected_dtype: the dtype the kernel must return.
        tol: the applied tolerance; its ``reason`` is recorded as ``tolerance_source``.

    Returns:
        The verdict; its ``comparison`` holds errors in the output's units, the mismatch count,
        the worst element (a non-finite mismatch first, else the largest excess over the
        allowed error, else the largest error) and the applied rtol/atol.
    """
    if tuple(actual.shape) != tuple(expected.shape):
        return Verdict(
            Category.SHAPE_MISMATCH,
            f"output shape {tuple(actual.shape)}, expected {tuple(expected.shape)}",
        )
    if is_exact_dtype(expected_dtype):
        return _compare_exact(actual, expected, expected_dtype)
    stats, nonfinite_bad = _statistics(actual, expected, tol)
    if actual.dtype != expected_dtype:
        message = f"output dtype {actual.dtype}, expected {expected_dtype}"
        return Verdict(Category.DTYPE_MISMATCH, message, stats)
    numel = stats.numel
    where = f"at {stats.worst_index}: got {stats.worst_actual!r}, expected {stats.worst_expected!r}"
    if nonfinite_bad:
        return Verdict(
            Category.NONFINITE_MISMATCH,
            f"{nonfinite_bad} of {numel} elements non-finite where the reference is not "
            f"(or the reverse); first {where}",
            stats,
        )
    # float64 on the output's own device: exact for every float dtype, fp8 included.
    if numel and not bool(actual.detach().to(torch.float64).ne(0).any()) and bool((expected != 0).any()):
        return Verdict(
            Category.NUMERICAL_MISMATCH,
            "output is all zeros but the reference is not (false-pass guard)",
            stats,
        )
    if stats.mismatches:
        return Verdict(
            Category.NUMERICAL_MISMATCH,
            f"{stats.mismatches} of {numel} elements ({stats.mismatch_pct:.3g}%) outside "
            f"rtol={tol.rtol:.3g} atol={tol.atol:.3g}; max abs err {stats.max_abs_err:.3g}, max rel "
            f"err {stats.max_rel_err:.3g}; worst {where}",
            stats,
        )
    return Verdict(Category.PASSED, "", stats)


def _compare_device(actual: torch.Tensor, expected: torch.Tensor) -> torch.device:
    """Where a comparison runs: the device both tensors are on (a GPU: no copy of a large output
    to the host, and the elementwise work runs there; issue 15 measured comparison at 37% of the
    summed case time of a GPU sweep when it ran on the host), else the CPU."""
    return expected.device if actual.device == expected.device else torch.device("cpu")


def _exact_values(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device`` as int64 (integers; bool by its bytes) or float64 (anything else)."""
    t = t.detach().to(device)
    if t.dtype == torch.bool:
        # Not t.to(int64): that would read the poison byte 2 as True.
        return t.view(torch.uint8).to(torch.int64)
    return t.to(torch.int64) if is_exact_dtype(t.dtype) else t.to(torch.float64)


def _compare_exact(actual: torch.Tensor, expected: torch.Tensor, expected_dtype: torch.dtype) -> Verdict:
    """Exact comparison of an integer or bool output (see :func:`compare`)."""
    device = _compare_device(actual, expected)
    a, e = _exact_values(actual, device), _exact_values(expected, device)
    bad = a != e
    numel = e.numel()
    diff = (a.to(torch.float64) - e.to(torch.float64)).abs()
    # A mismatch ranks above every match even where float64 rounds its difference to 0.
    score = torch.where(bad, diff + 1, torch.zeros_like(diff))
    worst_flat = int(torch.argmax(score.reshape(-1))) if numel else 0
    rel = torch.where(e != 0, diff / e.to(torch.float64).abs(), torch.zeros_like(diff))
    name = DTYPE_NAMES.get(expected_dtype, str(expected_dtype))
    stats = Comparison(
        max_abs_err=float(diff.max()) if numel else 0.0,
        max_rel_err=float(rel.max()) if numel else 0.0,
        mismatches=int(bad.sum()),
        numel=numel,
        rtol=0.0,
        atol=0.0,
        worst_index=(
            tuple(int(i) for i in torch.unravel_index(torch.tensor(worst_flat), e.shape)) if numel else None
        ),
        worst_actual=float(a.reshape(-1)[worst_flat]) if numel else None,
        worst_expected=float(e.reshape(-1)[worst_flat]) if numel else None,
        tolerance_source=f"{name} output: exact",
    )
    if actual.dtype != expected_dtype:
        return Verdict(
            Category.DTYPE_MISMATCH, f"output dtype {actual.dtype}, expected {expected_dtype}", stats
        )
    if not stats.mismatches:
        return Verdict(Category.PASSED, "", stats)
    got = a.reshape(-1)[worst_flat]
    poisoned = int(got) == (BOOL_POISON if expected_dtype == torch.bool else integer_sentinel(expected_dtype))
    hint = " (the poison of an element the kernel never wrote)" if poisoned else ""
    return Verdict(
        Category.NUMERICAL_MISMATCH,
        f"{stats.mismatches} of {numel} elements ({stats.mismatch_pct:.3g}%) differ from the "
        f"reference (exact comparison of {name}); worst at {stats.worst_index}: got "
        f"{stats.worst_actual!r}{hint}, expected {stats.worst_expected!r}",
        stats,
    )


def _statistics(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> tuple[Comparison, int]:
    """Error statistics of two same-shaped tensors, and the count of non-finite mismatches."""
    device = _compare_device(actual, expected)
    a = actual.detach().to(device, torch.float64)
    e = expected.detach().to(device, torch.float64)
    numel = e.numel()
    a_nf, e_nf = ~torch.isfinite(a), ~torch.isfinite(e)
    # NaN must sit where the reference has NaN; +-inf must match exactly.
    nf_bad = (a_nf | e_nf) & ~((torch.isnan(a) & torch.isnan(e)) | (a == e))
    finite = ~(a_nf | e_nf)
    diff = torch.where(finite, (a - e).abs(), torch.zeros_like(a))
    allowed = tol.atol + tol.rtol * e.abs()
    bad = (finite & (diff > allowed)) | nf_bad
    rel = torch.where(finite & (e != 0), diff / e.abs(), torch.zeros_like(a))
    # Worst: a non-finite mismatch first (the first one), then the largest excess over the
    # allowed error (the largest error when nothing exceeds it).
    score = torch.where(nf_bad, torch.full_like(a, math.inf), diff - allowed)
    worst_flat = int(torch.argmax(score.reshape(-1))) if numel else 0
    worst_index = (
        tuple(int(i) for i in torch.unravel_index(torch.tensor(worst_flat), e.shape)) if numel else None
    )
    stats = Comparison(
        max_abs_err=float(diff.max()) if numel else 0.0,
        max_rel_err=float(rel.max()) if numel else 0.0,
        mismatches=int(bad.sum()),
        numel=numel,
        rtol=tol.rtol,
        atol=tol.atol,
        worst_index=worst_index,
        worst_actual=float(a.reshape(-1)[worst_flat]) if numel else None,
        worst_expected=float(e.reshape(-1)[worst_flat]) if numel else None,
        tolerance_source=tol.reason,
    )
    return stats, int(nf_bad.sum())


# ---------------------------------------------------------------------------------------------
# False-pass guards.


#: The byte written into fresh bool tensors: neither False (0) nor True (1), so an element a
#: kernel never writes differs from every result when :func:`compare` reads bool bytes.
BOOL_POISON = 0x02


def integer_sentinel(dtype: torch.dtype) -> int:
    """The poison value for a fresh integer tensor of ``dtype``: ``torch.iinfo(dtype).max``,
    which no index, count or label a kernel computes is likely to equal (int8: 127, so an int8
    kernel that saturates at 127 should not leave outputs unwritten by design).

    Raises:
        TypeError: ``dtype`` is not an integer dtype (bool: see :data:`BOOL_POISON`).
    """
    return int(torch.iinfo(dtype).max)


def poison(t: torch.Tensor) -> None:
    """Fill ``t`` in place with NaN (floating and complex dtypes), :func:`integer_sentinel`
    (integer dtypes) or the byte :data:`BOOL_POISON` (bool: every bool value can be a result,
    but no kernel stores the byte 2)."""
    with torch.no_grad():
        if t.is_floating_point() or t.is_complex():
            if t.element_size() == 1:
                # fp8: fill_ is not implemented for every fp8 dtype on every device; the NaN
                # bit pattern is written through a uint8 view (0x7F: NaN in e4m3fn and e5m2).
                t.view(torch.uint8).fill_(0x7F)
            else:
                t.fill_(math.nan)
        elif t.dtype == torch.bool:
            t.view(torch.uint8).fill_(BOOL_POISON)
        else:
            t.fill_(integer_sentinel(t.dtype))


#: Functions that return uninitialized memory; what Helion's generated host code uses to
#: allocate outputs (``torch.empty``/``empty_like``/``new_empty``...). ``torch.zeros`` (split-K
#: atomics accumulate into it) and every other factory are not touched.
_ALLOCATORS: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.empty,
        torch.empty_like,
        torch.empty_strided,
        torch.Tensor.new_empty,
        torch.Tensor.new_empty_strided,
    }
)


class PoisonOutputs(TorchFunctionMode):
    """While active, fill every tensor returned by an uninitialized allocator with poison.

    An output element a kernel never writes then holds NaN (or the integer sentinel) and fails
    the comparison (``nonfinite-mismatch`` / ``numerical-mismatch``), instead of passing by the
    luck of what the allocator handed back. Works for CPU and CUDA tensors, under the Triton
    interpreter and natively, since it acts at the torch API the host code calls.

    Attributes:
        poisoned: how many tensors were filled (tests and diagnostics).
    """

    def __init__(self) -> None:
        super().__init__()
        self.poisoned = 0

    @blame.passthrough
    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in _ALLOCATORS and isinstance(out, torch.Tensor):
            poison(out)
            self.poisoned += 1
        return out


def all_zero_inputs(inputs: Sequence[Any], swept: torch.dtype | None = None) -> list[int]:
    """Indices of data tensors in ``inputs`` whose every element is zero (False).

    Data tensors are the floating ones, and, in an integer or bool sweep, those of the swept
    dtype ``swept``. Such inputs hide unwritten or never-computed outputs (a kernel that returns
    zeros matches any linear function of zeros), so the checker never tests on them. Integer
    tensors of another dtype (indices, offsets) may legitimately be all zero and are not
    checked. Empty tensors count as all-zero: they test nothing either.
    """
    found = []
    for i, value in enumerate(inputs):
        if not isinstance(value, torch.Tensor):
            continue
        if value.is_floating_point():
            # fp8 lacks comparison kernels on some devices: compare in fp32 (exact).
            nonzero = bool((value.detach().to(torch.float32) != 0).any())
        elif swept is not None and is_exact_dtype(swept) and value.dtype == swept:
            nonzero = bool(value.detach().to(torch.int64).any())
        else:
            continue
        if not nonzero:
            found.append(i)
    return found


def changed_elements(before: torch.Tensor, after: torch.Tensor) -> tuple[int, tuple[int, ...] | None]:
    """How many elements of ``after`` differ from ``before`` bit for bit, and the first one's index.

    Bits, not values: a NaN that stays NaN is unchanged, -0.0 written over 0.0 is a change.
    Both tensors have the same shape and dtype (``after`` is a copy of ``before`` that a kernel
    received); they may live on any device.
    """
    if before.numel() == 0:
        return 0, None
    size = before.element_size()
    # One row of raw bytes per element; contiguous() first because view() needs unit stride.
    b = before.detach().contiguous().reshape(-1).view(torch.uint8).reshape(-1, size)
    a = after.detach().to(before.device).contiguous().reshape(-1).view(torch.uint8).reshape(-1, size)
    diff = (a != b).any(dim=1)
    count = int(diff.sum())
    if not count:
        return 0, None
    flat = int(torch.nonzero(diff)[0])
    return count, tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), before.shape))
