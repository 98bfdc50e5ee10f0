"""The tolerance policy, the comparison order and the false-pass guards of checker.numerics.

The guard tests run real Helion kernels through ``execute.check_case``: under the Triton
interpreter on a CPU machine, natively on a CUDA machine.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import helion
import helion.language as hl
import pytest
import torch
import torch.testing._comparison as tc

from checker import execute, run_options
from checker.categories import Category
from checker.model import CaseId, Record
from checker.numerics import (
    BOOL_POISON,
    CONFIDENCE,
    DEFAULT_TOLERANCES,
    FORMATS,
    PoisonOutputs,
    all_zero_inputs,
    changed_elements,
    compare,
    integer_sentinel,
    tolerance_for,
)
from checker.spec import DEFAULT, DOT_PRECISIONS, DTYPE_NAMES, KernelSpec, SpecError, Tolerance
from checker.targets import DEFAULT_TARGET, TARGETS, local_cuda_target

TOL = Tolerance(1e-3, 1e-5, "test")


def _ref(n: int = 64) -> torch.Tensor:
    return torch.linspace(-3.0, 5.0, n, dtype=torch.float64)


# --- the policy's numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_defaults_are_assert_closes_own(dtype: torch.dtype) -> None:
    tol = tolerance_for(dtype)
    assert (tol.rtol, tol.atol) == tc.default_tolerances(dtype)
    assert tol.reason.startswith(f"default for {DTYPE_NAMES[dtype]} output")


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_fp8_defaults_follow_from_the_format(dtype: torch.dtype) -> None:
    finfo = torch.finfo(dtype)
    tol = DEFAULT_TOLERANCES[dtype]
    # rtol = 2u = eps (one ulp at 1.0), atol = the smallest subnormal.
    assert tol.rtol == finfo.eps
    assert tol.atol == finfo.smallest_normal * finfo.eps
    assert tol.rtol > 0 and tol.atol > 0


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        ("fp32", torch.float32),
        ("fp16", torch.float16),
        ("bf16", torch.bfloat16),
        ("fp8e4m3", torch.float8_e4m3fn),
    ],
)
def test_unit_roundoff_matches_torch_finfo(name: str, dtype: torch.dtype) -> None:
    assert FORMATS[name].unit_roundoff == torch.finfo(dtype).eps / 2


def test_tf32_and_reduction_terms() -> None:
    base = tolerance_for(torch.float32)
    tf32 = tolerance_for(torch.float32, dot_precision="tf32")
    assert tf32.rtol - base.rtol == pytest.approx(CONFIDENCE * 2 * 2.0**-10)
    assert tf32.atol - base.atol == pytest.approx(CONFIDENCE * 2 * 2.0**-10)
    assert "tf32 dot operands" in tf32.reason
    k1 = tolerance_for(torch.float16, reduction_length=1024)
    k4 = tolerance_for(torch.float16, reduction_length=4096)
    b16 = DEFAULT_TOLERANCES[torch.float16]
    assert k1.atol - b16.atol == pytest.approx(CONFIDENCE * 32 * 2.0**-23)
    # sqrt(K) growth: 4x the terms, 2x the added tolerance.
    assert (k4.atol - b16.atol) == pytest.approx(2 * (k1.atol - b16.atol))
    assert "scaled by K=4096" in k4.reason
    # No reduction, no added term; fp8 fast accumulation adds far more than fp32 accumulation.
    assert tolerance_for(torch.float16, reduction_length=1) == dataclasses.replace(
        b16, reason=tolerance_for(torch.float16).reason
    )
    fp8 = tolerance_for(
        torch.float8_e4m3fn, output_dtype=torch.bfloat16, dot_precision="fp8-fast-accum", reduction_length=64
    )
    assert fp8.rtol == pytest.approx(1.6e-2 + CONFIDENCE * 8 * 2.0**-13)
    assert "default for bf16 output" in fp8.reason


def test_override_replaces_the_policy_and_says_so() -> None:
    override = Tolerance(5e-2, 1e-2, "long reduction")
    tol = tolerance_for(
        torch.bfloat16, {torch.bfloat16: override}, dot_precision="tf32", reduction_length=10**6
    )
    assert (tol.rtol, tol.atol) == (5e-2, 1e-2)
    assert tol.reason == "override for bf16: long reduction"
    # Other dtypes keep the policy.
    assert tolerance_for(torch.float16, {torch.bfloat16: override}) == tolerance_for(torch.float16)


def test_integer_outputs_are_exact() -> None:
    tol = tolerance_for(torch.float32, output_dtype=torch.int64)
    assert (tol.rtol, tol.atol) == (0.0, 0.0)


def _trunc_tf32(x: torch.Tensor) -> torch.Tensor:
    """fp32 -> tf32 the way tensor cores read it: the low 13 mantissa bits dropped."""
    return (x.float().view(torch.int32) & ~0x1FFF).view(torch.float32)


def test_tf32_flag_covers_a_tf32_matmul_that_fp32_defaults_reject() -> None:
    gen = torch.Generator().manual_seed(0)
    m, n, k = 64, 64, 4096
    a = torch.randn(m, k, generator=gen) * k**-0.25
    b = torch.randn(k, n, generator=gen) * k**-0.25
    ref = a.double() @ b.double()
    out = _trunc_tf32(a) @ _trunc_tf32(b)
    tf32 = tolerance_for(torch.float32, dot_precision="tf32", reduction_length=k)
    assert compare(out, ref, torch.float32, tf32).category is Category.PASSED
    assert (
        compare(out, ref, torch.float32, tolerance_for(torch.float32)).category is Category.NUMERICAL_MISMATCH
    )
    # Not so loose that a missing K step passes: drop the last 16 products.
    short = _trunc_tf32(a[:, :-16]) @ _trunc_tf32(b[:-16])
    assert compare(short, ref, torch.float32, tf32).category is Category.NUMERICAL_MISMATCH


def test_sqrt_k_term_covers_sequential_fp32_accumulation_but_not_a_dropped_term() -> None:
    gen = torch.Generator().manual_seed(1)
    n = 2**18
    x = torch.randn(8, n, generator=gen) / n**0.5
    ref = x.double().sum(-1)
    # cumsum on CPU adds left to right: the worst (longest-chain) accumulation order.
    sequential = x.cumsum(-1)[:, -1]
    tol = tolerance_for(torch.float32, reduction_length=n)
    assert compare(sequential, ref, torch.float32, tol).category is Category.PASSED
    dropped = x[:, 1:].cumsum(-1)[:, -1]
    assert compare(dropped, ref, torch.float32, tol).category is Category.NUMERICAL_MISMATCH


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_fp8_output_rounding_passes_and_two_ulps_fail(dtype: torch.dtype) -> None:
    ref = torch.linspace(0.01, 3.0, 200, dtype=torch.float64)
    rounded = ref.to(dtype)
    tol = tolerance_for(dtype)
    assert compare(rounded, ref, dtype, tol).category is Category.PASSED
    # Never unchecked: two ulps off (next-but-one fp8 value, via the uint8 bit pattern) fails.
    off = (rounded.view(torch.uint8) + 2).view(dtype)
    verdict = compare(off, ref, dtype, tol)
    assert verdict.category is Category.NUMERICAL_MISMATCH
    assert verdict.comparison is not None and verdict.comparison.mismatches > 100


# --- comparison order and statistics ----------------------------------------------------------


def test_within_tolerance_passes_with_statistics() -> None:
    ref = _ref()
    verdict = compare(ref.to(torch.float16), ref, torch.float16, TOL)
    assert verdict.category is Category.PASSED
    stats = verdict.comparison
    assert stats is not None
    assert stats.mismatches == 0 and stats.numel == 64
    assert 0 < stats.max_abs_err < 5e-3
    assert (stats.rtol, stats.atol, stats.tolerance_source) == (1e-3, 1e-5, "test")


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


def test_worst_index_is_the_largest_excess_not_the_first_mismatch() -> None:
    ref = _ref()
    out = ref.float().clone()
    out[3] += 0.1
    out[40] += 2.0
    verdict = compare(out, ref, torch.float32, TOL)
    assert verdict.comparison is not None and verdict.comparison.mismatches == 2
    assert verdict.comparison.worst_index == (40,)


def test_order_shape_then_dtype_then_nonfinite_then_tolerance() -> None:
    ref = _ref()
    assert compare(ref[:10].float(), ref, torch.float32, TOL).category is Category.SHAPE_MISMATCH
    # A wrong dtype is reported before the NaN it also carries, with statistics.
    wrong = ref.half().clone()
    wrong[5] = math.nan
    verdict = compare(wrong, ref, torch.float32, TOL)
    assert verdict.category is Category.DTYPE_MISMATCH
    assert verdict.comparison is not None and verdict.comparison.worst_index == (5,)
    # NaN before a large error elsewhere.
    out = ref.float().clone()
    out[2] += 10.0
    out[9] = math.nan
    verdict = compare(out, ref, torch.float32, TOL)
    assert verdict.category is Category.NONFINITE_MISMATCH
    assert verdict.comparison is not None and verdict.comparison.worst_index == (9,)
    assert verdict.comparison.mismatches == 2


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
    out = ref.float().clone()
    out[0] = 0.0  # a finite value where the reference has NaN
    assert compare(out, ref, torch.float32, TOL).category is Category.NONFINITE_MISMATCH


def test_all_zero_output_fails_even_within_atol() -> None:
    ref = torch.full((32,), 1e-4, dtype=torch.float64)
    verdict = compare(torch.zeros(32), ref, torch.float32, Tolerance(0.0, 1.0, "loose"))
    assert verdict.category is Category.NUMERICAL_MISMATCH
    assert "all zeros" in verdict.message
    assert verdict.comparison is not None and verdict.comparison.mismatches == 0
    # An all-zero reference matched by zeros is fine.
    assert compare(torch.zeros(32), torch.zeros(32, dtype=torch.float64), torch.float32, TOL).category is (
        Category.PASSED
    )


# --- poison and input guards (unit) -----------------------------------------------------------


def test_poison_fills_uninitialized_allocations_only() -> None:
    x = torch.ones(4)
    with PoisonOutputs() as mode:
        allocated = [
            torch.empty(4),
            torch.empty_like(x),
            x.new_empty(4),
            torch.empty_strided((2, 2), (2, 1)),
            torch.empty(4, dtype=torch.float8_e4m3fn),
            torch.empty(4, dtype=torch.bfloat16),
        ]
        ints = [torch.empty(4, dtype=torch.int32), torch.empty_like(x, dtype=torch.int64)]
        untouched = [torch.zeros(4), torch.ones(4), torch.full((4,), 2.0), x.new_zeros(4)]
        flag = torch.empty(4, dtype=torch.bool)
    assert mode.poisoned == len(allocated) + len(ints) + 1
    for t in allocated:
        assert bool(torch.isnan(t.float()).all()), t.dtype
    for t in ints:
        assert bool((t == integer_sentinel(t.dtype)).all())
    assert [float(t.sum()) for t in untouched] == [0.0, 4.0, 8.0, 0.0]
    # bool: every value can be a result, so the poison is a byte no kernel stores.
    assert flag.dtype == torch.bool and bool((flag.view(torch.uint8) == BOOL_POISON).all())
    # Outside the mode nothing is poisoned.
    torch.manual_seed(0)
    assert not bool(torch.isnan(torch.zeros(4)).any())


def test_all_zero_inputs_are_found_by_index() -> None:
    a, z = torch.randn(3), torch.zeros(3)
    assert all_zero_inputs((a, z, 1e-5, torch.zeros(3, dtype=torch.int64))) == [1]
    assert all_zero_inputs((z.to(torch.float8_e4m3fn), a)) == [0]
    assert all_zero_inputs((a, torch.arange(3))) == []


def test_all_zero_inputs_of_an_integer_or_bool_sweep() -> None:
    zi, idx = torch.zeros(3, dtype=torch.int32), torch.zeros(3, dtype=torch.int64)
    # Tensors of the swept dtype are data; other integer tensors (indices) may be all zero.
    assert all_zero_inputs((zi, idx), torch.int32) == [0]
    assert all_zero_inputs((zi, idx), torch.float32) == []
    assert all_zero_inputs(
        (torch.zeros(2, dtype=torch.bool), torch.ones(2, dtype=torch.bool)), torch.bool
    ) == [0]


def test_integer_outputs_compare_exactly_beyond_float64() -> None:
    big = torch.tensor([2**62, 5], dtype=torch.int64)
    tol = tolerance_for(torch.int64)
    assert compare(big.clone(), big, torch.int64, tol).category is Category.PASSED
    # 2**62 + 1 rounds to 2**62 in float64; the exact comparison still sees it.
    verdict = compare(big + torch.tensor([1, 0]), big, torch.int64, tol)
    assert verdict.category is Category.NUMERICAL_MISMATCH and verdict.comparison is not None
    assert verdict.comparison.mismatches == 1 and verdict.comparison.worst_index == (0,)
    # An override keyed by the swept dtype is for floating outputs: integer outputs stay exact.
    loose = {torch.float32: Tolerance(1.0, 1.0, "loose")}
    exact = tolerance_for(torch.float32, loose, output_dtype=torch.int32)
    assert (exact.rtol, exact.atol) == (0.0, 0.0)


def test_bool_outputs_are_read_by_their_bytes() -> None:
    expected = torch.tensor([True, False, True])
    out = torch.empty(3, dtype=torch.bool)
    out.view(torch.uint8).copy_(torch.tensor([1, BOOL_POISON, 1], dtype=torch.uint8))
    verdict = compare(out, expected, torch.bool, tolerance_for(torch.bool))
    assert verdict.category is Category.NUMERICAL_MISMATCH, verdict.message
    assert verdict.comparison is not None and verdict.comparison.worst_actual == float(BOOL_POISON)
    assert "never wrote" in verdict.message
    assert (
        compare(expected.clone(), expected, torch.bool, tolerance_for(torch.bool)).category is Category.PASSED
    )


def test_changed_elements_compares_bits() -> None:
    x = torch.tensor([[1.0, math.nan], [0.0, 2.0]])
    assert changed_elements(x, x.clone()) == (0, None)  # NaN stays NaN: unchanged
    y = x.clone()
    y[1, 0] = -0.0  # equal as a value, not as bits
    assert changed_elements(x, y) == (1, (1, 0))
    t = torch.arange(6, dtype=torch.int16).reshape(2, 3).t()  # non-contiguous
    u = t.clone()
    u[2, 1] = 99
    assert changed_elements(t, u) == (1, (2, 1))


def _spec_kwargs() -> dict[str, Any]:
    return dict(
        name="copy2",
        kernel=double,
        reference=lambda x: 2 * x,
        make_inputs=_randn_inputs,
        shapes=[],
        small_shapes=[(6, 16)],
        dtypes=[torch.float32],
        configs={"default": DEFAULT},
    )


def test_spec_validation_of_numerics_fields() -> None:
    KernelSpec(
        **_spec_kwargs(), dot_precision={torch.float32: "tf32"}, reduction_length=lambda s: s[1]
    ).validate()
    bad: list[dict[str, Any]] = [
        {"dot_precision": {torch.float32: "tf64"}},
        {"dot_precision": {torch.float16: "tf32"}},  # not swept
        {"reduction_length": lambda s: 0},
        {"reduction_length": lambda s: True},
        {"reduction_length": lambda s: float(s[1])},
    ]
    for extra in bad:
        with pytest.raises(SpecError, match="copy2"):
            KernelSpec(**_spec_kwargs(), **extra).validate()
    assert set(DOT_PRECISIONS) == {"ieee", "tf32", "fp8-fast-accum", "fp16-operand", "bf16-operand"}


# --- the guards through real kernels ----------------------------------------------------------


@helion.kernel(static_shapes=True)
def double(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile, :] = x[tile, :] * 2.0
    return out


@helion.kernel(static_shapes=True)
def double_top_half(x: torch.Tensor) -> torch.Tensor:
    """Forgets the bottom half of the rows."""
    m = x.size(0)
    out = torch.empty_like(x)
    for tile in hl.tile(m // 2):
        out[tile, :] = x[tile, :] * 2.0
    return out


@helion.kernel(static_shapes=True)
def index_top_half(x: torch.Tensor) -> torch.Tensor:
    """Integer output, bottom half of the rows never written."""
    m = x.size(0)
    out = torch.empty_like(x)
    for tile in hl.tile(m // 2):
        out[tile, :] = x[tile, :] + 1
    return out


@helion.kernel(static_shapes=True)
def zero_out(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile, :] = x[tile, :] * 0.0
    return out


@helion.kernel(static_shapes=True)
def atomic_row_sum(x: torch.Tensor) -> torch.Tensor:
    """Split-K style: a zero-initialized fp32 accumulator that programs atomic_add into."""
    m, n = x.size()
    out = torch.zeros([m], dtype=torch.float32, device=x.device)
    for tile_m, tile_n in hl.tile([m, n], block_size=[2, 8]):
        hl.atomic_add(out, [tile_m], torch.sum(x[tile_m, tile_n], dim=1))
    return out


@helion.kernel(static_shapes=True)
def atomic_row_sum_empty(x: torch.Tensor) -> torch.Tensor:
    """The same with the bug of an uninitialized accumulator."""
    m, n = x.size()
    out = torch.empty([m], dtype=torch.float32, device=x.device)
    for tile_m, tile_n in hl.tile([m, n], block_size=[2, 8]):
        hl.atomic_add(out, [tile_m], torch.sum(x[tile_m, tile_n], dim=1))
    return out


def _randn_inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(shape, generator=gen).to(dtype),)


def _check(kernel: Any, reference: Any, **kw: Any) -> Record:
    """Run one case of a one-off spec through check_case (interpreter on CPU, native on CUDA)."""
    fields: dict[str, Any] = {
        **_spec_kwargs(),
        "name": kernel.name,
        "kernel": kernel,
        "reference": reference,
        **kw,
    }
    spec = KernelSpec(**fields)
    spec.validate()
    local = local_cuda_target()
    target = local or TARGETS[DEFAULT_TARGET]
    opts = run_options.RunOptions(
        sweep_seed=0, target=target, native=local is not None, n_configs=0, compile="off"
    )
    case = CaseId(spec.name, spec.small_shapes[0], "fp32", "default")
    return execute.check_case(spec, case, opts)


def test_a_correct_kernel_passes_with_its_tolerance_recorded() -> None:
    rec = _check(double, lambda x: 2 * x)
    assert rec.category is Category.PASSED, rec.message
    assert rec.comparison is not None and rec.comparison.numel == 96
    assert rec.comparison.tolerance_source.startswith("default for fp32 output")


def test_unwritten_float_output_fails_as_nonfinite_because_of_the_poison() -> None:
    rec = _check(double_top_half, lambda x: 2 * x)
    assert rec.category is Category.NONFINITE_MISMATCH, rec.message
    assert rec.comparison is not None
    assert rec.comparison.mismatches == 48  # rows 3..5 of 6, 16 columns
    assert rec.comparison.worst_index == (3, 0)
    assert rec.comparison.worst_actual is not None and math.isnan(rec.comparison.worst_actual)


def test_unwritten_integer_output_fails_on_the_sentinel() -> None:
    def make(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
        return (torch.randint(0, 100, shape, generator=gen, dtype=torch.int32),)

    rec = _check(
        index_top_half, lambda x: x + 1, make_inputs=make, output_dtypes={torch.float32: torch.int32}
    )
    assert rec.category is Category.NUMERICAL_MISMATCH, rec.message
    assert rec.comparison is not None and rec.comparison.mismatches == 48
    assert rec.comparison.worst_actual == float(integer_sentinel(torch.int32))
    assert (rec.comparison.rtol, rec.comparison.atol) == (0.0, 0.0)


def test_zero_initialized_accumulators_are_not_poisoned() -> None:
    rec = _check(atomic_row_sum, lambda x: x.sum(-1), reduction_length=lambda s: s[1])
    assert rec.category is Category.PASSED, rec.message
    assert rec.comparison is not None and "scaled by K=16" in rec.comparison.tolerance_source
    bug = _check(atomic_row_sum_empty, lambda x: x.sum(-1))
    assert bug.category is Category.NONFINITE_MISMATCH, bug.message


def test_all_zero_output_kernel_fails_even_under_a_loose_override() -> None:
    rec = _check(
        zero_out, lambda x: 2 * x, tolerances={torch.float32: Tolerance(0.0, 100.0, "loose on purpose")}
    )
    assert rec.category is Category.NUMERICAL_MISMATCH, rec.message
    assert "all zeros" in rec.message
    assert (
        rec.comparison is not None
        and rec.comparison.tolerance_source == "override for fp32: loose on purpose"
    )


def test_all_zero_inputs_are_rejected_before_the_kernel_runs() -> None:
    def zeros(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randn(shape, generator=gen), torch.zeros(shape, dtype=dtype))

    rec = _check(double, lambda x, y: 2 * x, make_inputs=zeros, name="zero_inputs")
    assert rec.category is Category.REFERENCE_ERROR
    assert "'zero_inputs'" in rec.message and "(6, 16)" in rec.message and "fp32" in rec.message
    assert "input 1" in rec.message and rec.fields["input_index"] == 1
    assert "run" not in rec.stages
