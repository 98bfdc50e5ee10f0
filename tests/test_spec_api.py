"""The spec API for real kernels: integer and bool sweeps, several outputs, in-place kernels,
``reference_device``, compile-only inputs by layout, and small shapes compiled before they run.

Every case runs a real Helion kernel through ``execute.check_case``: under the Triton
interpreter on a CPU machine (the kcheck plugin enables it for this process), natively on a
CUDA machine.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from typing import Any

import helion
import helion.language as hl
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor

from checker import diagnostics, execute, prepare, run_options
from checker.categories import Category
from checker.model import CaseId, Record
from checker.spec import DEFAULT, DTYPE_NAMES, DTYPES_BY_NAME, KernelSpec, Output, SpecError, Tolerance
from checker.targets import DEFAULT_TARGET, TARGETS, local_cuda_target

ROOT = Path(__file__).resolve().parent.parent


def _opts(compile: str = "off", n_configs: int = 0) -> run_options.RunOptions:
    local = local_cuda_target()
    return run_options.RunOptions(
        sweep_seed=0,
        target=local or TARGETS[DEFAULT_TARGET],
        native=local is not None,
        n_configs=n_configs,
        compile=compile,
    )


def _spec(kernel: Any, reference: Any, make_inputs: Any, **kw: Any) -> KernelSpec:
    fields: dict[str, Any] = {
        "name": kernel.name,
        "kernel": kernel,
        "reference": reference,
        "make_inputs": make_inputs,
        "shapes": [],
        "small_shapes": [(6, 16)],
        "dtypes": [torch.float32],
        "configs": {"default": DEFAULT},
        **kw,
    }
    spec = KernelSpec(**fields)
    spec.validate()
    return spec


def _check(
    spec: KernelSpec, dtype: str = "fp32", shape: tuple[int, ...] | None = None, **opts: Any
) -> Record:
    case = CaseId(spec.name, shape or spec.small_shapes[0], dtype, "default")
    return execute.check_case(spec, case, _opts(**opts))


def _randn(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(shape, generator=gen).to(dtype),)


# --- A. integer and bool dtypes ---------------------------------------------------------------


@helion.kernel(static_shapes=True)
def affine_int(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 3 + 1
    return out


@helion.kernel(static_shapes=True)
def affine_int_top_half(x: torch.Tensor) -> torch.Tensor:
    """Forgets the bottom half of the rows."""
    out = torch.empty_like(x)
    for tile_m, tile_n in hl.tile([x.size(0) // 2, x.size(1)]):
        out[tile_m, tile_n] = x[tile_m, tile_n] * 3 + 1
    return out


@helion.kernel(static_shapes=True)
def xor_mask(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(a)
    for tile in hl.tile(a.size()):
        out[tile] = a[tile] != b[tile]
    return out


@helion.kernel(static_shapes=True)
def xor_mask_top_half(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(a)
    for tile_m, tile_n in hl.tile([a.size(0) // 2, a.size(1)]):
        out[tile_m, tile_n] = a[tile_m, tile_n] != b[tile_m, tile_n]
    return out


def _ints(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    # Small values: x * 3 + 1 stays inside int8.
    return (torch.randint(-40, 40, shape, generator=gen).to(dtype),)


def _bools(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    return tuple(torch.randint(0, 2, shape, generator=gen).to(dtype) for _ in range(2))


def _affine_reference(x: torch.Tensor) -> torch.Tensor:
    return x * 3 + 1


def _xor_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a != b


def test_integer_and_bool_dtypes_have_short_names() -> None:
    for dtype, name in [(torch.int8, "i8"), (torch.int32, "i32"), (torch.int64, "i64"), (torch.bool, "bool")]:
        assert DTYPE_NAMES[dtype] == name and DTYPES_BY_NAME[name] == dtype


@pytest.mark.parametrize("dtype", [torch.int8, torch.int32, torch.int64])
def test_integer_sweep_passes_exactly(dtype: torch.dtype) -> None:
    spec = _spec(affine_int, _affine_reference, _ints, dtypes=[torch.int8, torch.int32, torch.int64])
    rec = _check(spec, DTYPE_NAMES[dtype])
    assert rec.category is Category.PASSED, rec.message
    assert rec.case.name == f"affine_int[6x16-{DTYPE_NAMES[dtype]}-default]"
    assert rec.comparison is not None
    assert (rec.comparison.rtol, rec.comparison.atol) == (0.0, 0.0)
    assert rec.comparison.tolerance_source == f"{DTYPE_NAMES[dtype]} output: exact"


def test_integer_sweep_finds_unwritten_elements_by_the_sentinel() -> None:
    spec = _spec(affine_int_top_half, _affine_reference, _ints, dtypes=[torch.int32])
    rec = _check(spec, "i32")
    assert rec.category is Category.NUMERICAL_MISMATCH, rec.message
    assert rec.comparison is not None and rec.comparison.mismatches == 48
    assert "exact comparison of i32" in rec.message and "never wrote" in rec.message


def test_bool_sweep_passes_and_unwritten_bools_are_found() -> None:
    spec = _spec(xor_mask, _xor_reference, _bools, dtypes=[torch.bool])
    rec = _check(spec, "bool")
    assert rec.category is Category.PASSED, rec.message
    assert rec.comparison is not None and rec.comparison.tolerance_source == "bool output: exact"
    # Half the rows never written: every bool value could be a result, but the poison byte 2
    # that the host's torch.empty_like got is neither False nor True.
    bug = _check(_spec(xor_mask_top_half, _xor_reference, _bools, dtypes=[torch.bool]), "bool")
    assert bug.category is Category.NUMERICAL_MISMATCH, bug.message
    assert bug.comparison is not None and bug.comparison.mismatches == 48
    assert bug.comparison.worst_actual == 2.0 and "never wrote" in bug.message


def test_all_zero_integer_input_of_the_swept_dtype_is_a_spec_error() -> None:
    def zeros(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
        return (torch.zeros(shape, dtype=dtype),)

    rec = _check(_spec(affine_int, _affine_reference, zeros, dtypes=[torch.int32]), "i32")
    assert rec.category is Category.REFERENCE_ERROR and rec.fields["input_index"] == 0, rec.message


def test_make_inputs_returning_a_bare_tensor_is_a_spec_error() -> None:
    """A bare tensor (no tuple) once became checker-error blaming kcheck (fla suite, issue 26)."""

    def bare(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(1, 9, shape, generator=gen).to(dtype)

    rec = _check(_spec(affine_int, _affine_reference, bare, dtypes=[torch.int32]), "i32")
    assert rec.category is Category.REFERENCE_ERROR, rec.message
    assert "returned a Tensor, not a tuple" in rec.message and "(x,)" in rec.message


# --- B. several outputs -----------------------------------------------------------------------


@helion.kernel(static_shapes=True)
def row_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row: the mean, the count of positive entries (int32), and a scratch copy."""
    m, n = x.size()
    mean = torch.empty([m], dtype=x.dtype, device=x.device)
    positives = torch.empty([m], dtype=torch.int32, device=x.device)
    scratch = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :].to(torch.float32)
        mean[tile_m] = (torch.sum(row, dim=-1) / n).to(mean.dtype)
        positives[tile_m] = torch.sum((row > 0).to(torch.int32), dim=-1)
        scratch[tile_m, :] = x[tile_m, :]
    return mean, positives, scratch


@helion.kernel(static_shapes=True)
def row_stats_biased(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The same with the bug of dividing by n - 1."""
    m, n = x.size()
    mean = torch.empty([m], dtype=x.dtype, device=x.device)
    positives = torch.empty([m], dtype=torch.int32, device=x.device)
    scratch = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :].to(torch.float32)
        mean[tile_m] = (torch.sum(row, dim=-1) / (n - 1)).to(mean.dtype)
        positives[tile_m] = torch.sum((row > 0).to(torch.int32), dim=-1)
        scratch[tile_m, :] = x[tile_m, :]
    return mean, positives, scratch


def _row_stats_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # The scratch output is uncompared: its reference value is a placeholder of the right shape.
    return x.mean(-1), (x > 0).sum(-1).to(torch.int32), torch.zeros_like(x)


_ROW_STATS_OUTPUTS = (
    Output("mean", reduction_length=lambda shape: shape[1]),
    Output("positives", dtype=torch.int32),
    Output("scratch", compare=False, reason="scratch copy of the input; layout-dependent by design"),
)


def test_several_outputs_each_with_its_own_dtype_and_tolerance() -> None:
    spec = _spec(
        row_stats,
        _row_stats_reference,
        _randn,
        dtypes=[torch.float32, torch.float16],
        outputs=_ROW_STATS_OUTPUTS,
    )
    for dtype in ("fp32", "fp16"):
        rec = _check(spec, dtype)
        assert rec.category is Category.PASSED, rec.message
        assert rec.fields["uncompared"] == {"scratch": _ROW_STATS_OUTPUTS[2].reason}
        per_output = rec.fields["outputs"]
        assert set(per_output) == {"mean", "positives"}
        assert (per_output["positives"]["rtol"], per_output["positives"]["atol"]) == (0.0, 0.0)
        assert per_output["mean"]["rtol"] > 0
        # The record's comparison is the first compared output's: the mean's, scaled by K=16.
        assert rec.comparison is not None and "K=16" in rec.comparison.tolerance_source


def test_failing_output_is_named_in_the_message() -> None:
    spec = _spec(row_stats_biased, _row_stats_reference, _randn, outputs=_ROW_STATS_OUTPUTS)
    rec = _check(spec)
    assert rec.category is Category.NUMERICAL_MISMATCH, rec.message
    assert rec.message.startswith("output 'mean': ")
    assert rec.fields["uncompared"] == {"scratch": _ROW_STATS_OUTPUTS[2].reason}


def test_per_output_tolerance_override_applies_to_that_output_only() -> None:
    loose = Tolerance(0.1, 0.1, reason="n - 1 vs n on 16 terms, on purpose")
    outputs = (
        dataclasses.replace(_ROW_STATS_OUTPUTS[0], tolerances={torch.float32: loose}),
        *_ROW_STATS_OUTPUTS[1:],
    )
    rec = _check(_spec(row_stats_biased, _row_stats_reference, _randn, outputs=outputs))
    assert rec.category is Category.PASSED, rec.message
    assert rec.comparison is not None
    assert rec.comparison.tolerance_source == "override for fp32: n - 1 vs n on 16 terms, on purpose"
    assert (rec.fields["outputs"]["positives"]["rtol"], rec.fields["outputs"]["positives"]["atol"]) == (
        0.0,
        0.0,
    )


def test_output_count_must_match_the_declaration() -> None:
    two = _ROW_STATS_OUTPUTS[:2]
    rec = _check(_spec(row_stats, lambda x: _row_stats_reference(x)[:2], _randn, outputs=two))
    assert rec.category is Category.SHAPE_MISMATCH, rec.message
    assert "kernel returned 3 outputs, the spec declares 2 ('mean', 'positives')" in rec.message
    ref = _check(_spec(row_stats, _row_stats_reference, _randn, outputs=two))
    assert ref.category is Category.REFERENCE_ERROR and "outputs declares 2" in ref.message


# --- C. in-place kernels ----------------------------------------------------------------------


@helion.kernel(static_shapes=True)
def add_into(acc: torch.Tensor, x: torch.Tensor) -> None:
    for tile in hl.tile(acc.size()):
        acc[tile] = acc[tile] + x[tile]


@helion.kernel(static_shapes=True)
def add_into_twice(acc: torch.Tensor, x: torch.Tensor) -> None:
    for tile in hl.tile(acc.size()):
        acc[tile] = acc[tile] + 2 * x[tile]


@helion.kernel(static_shapes=True)
def double_then_zero(x: torch.Tensor) -> torch.Tensor:
    """Correct output, but zeroes its input after reading it."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        v = x[tile]
        out[tile] = v * 2.0
        x[tile] = torch.zeros_like(v)
    return out


def _two_randn(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    return tuple(torch.randn(shape, generator=gen).to(dtype) for _ in range(2))


def _add_into_reference(acc: torch.Tensor, x: torch.Tensor) -> None:
    acc += x


def test_mutated_argument_is_compared_with_the_references_copy() -> None:
    spec = _spec(
        add_into, _add_into_reference, _two_randn, mutates=["acc"], dtypes=[torch.float32, torch.float16]
    )
    for dtype in ("fp32", "fp16"):
        rec = _check(spec, dtype)
        assert rec.category is Category.PASSED, rec.message
        assert rec.comparison is not None and rec.comparison.numel == 96
    bug = _check(_spec(add_into_twice, _add_into_reference, _two_randn, mutates=["acc"]))
    assert bug.category is Category.NUMERICAL_MISMATCH, bug.message
    assert bug.message.startswith("mutated argument 'acc': ")


def test_in_place_kernel_without_mutates_is_input_mutated() -> None:
    rec = _check(_spec(add_into, lambda acc, x: acc + x, _two_randn))
    assert rec.category is Category.INPUT_MUTATED, rec.message
    assert "'acc' (argument 0)" in rec.message and rec.fields["argument"] == "acc"


def test_kernel_that_zeroes_its_input_is_input_mutated() -> None:
    rec = _check(_spec(double_then_zero, lambda x: 2 * x, _randn))
    assert rec.category is Category.INPUT_MUTATED, rec.message
    assert rec.category.is_failure and rec.signature
    assert rec.fields["changed"] == rec.fields["numel"] == 96
    assert "kernel wrote input 'x' (argument 0)" in rec.message and "now 0.0" in rec.message

    # Listing it in mutates (with a reference that zeroes its copy) makes it a checked output.
    def reference(x: torch.Tensor) -> torch.Tensor:
        out = 2 * x
        x.zero_()
        return out

    ok = _check(_spec(double_then_zero, reference, _randn, mutates=["x"]))
    assert ok.category is Category.PASSED, ok.message


def test_mutated_argument_left_uncompared_with_a_reason() -> None:
    """Listing ``x`` in mutates exempts it from the input check; compare=False skips it."""
    outputs = [Output("x", compare=False, reason="the caller discards it after the launch")]
    spec = _spec(add_into, _add_into_reference, _two_randn, mutates=["acc", "x"], outputs=outputs)
    rec = _check(spec)
    assert rec.category is Category.PASSED, rec.message
    assert rec.fields["uncompared"] == {"x": "the caller discards it after the launch"}


# --- D. reference_device ----------------------------------------------------------------------


@helion.kernel(static_shapes=True)
def double(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 2.0
    return out


def test_reference_device_cpu_runs_the_reference_on_cpu_copies() -> None:
    seen: list[torch.device] = []

    def cpu_only_reference(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.device)
        # A CPU-only helper: numpy cannot take a CUDA tensor.
        return torch.from_numpy(x.numpy() * 2)

    spec = _spec(double, cpu_only_reference, _randn, name="double_cpu_ref", reference_device="cpu")
    rec = _check(spec)
    assert rec.category is Category.PASSED, rec.message
    assert seen == [torch.device("cpu")]


def test_reference_gets_copies_of_integer_inputs() -> None:
    """An integer input passes to the reference without an upcast; writing it must not change
    the cached input the kernel then reads."""

    def scribbling_reference(x: torch.Tensor) -> torch.Tensor:
        out = x * 3 + 1
        x.fill_(7)
        return out

    rec = _check(_spec(affine_int, scribbling_reference, _ints, dtypes=[torch.int32]), "i32")
    assert rec.category is Category.PASSED, rec.message


# --- E. compile-only inputs are never materialized --------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_compile_only_inputs_are_layouts_not_data() -> None:
    if local_cuda_target() is not None:
        pytest.skip("on a GPU every case runs: inputs are materialized")
    made: list[torch.Tensor] = []

    def huge(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        x = torch.randn(shape, generator=gen).to(dtype)
        made.append(x)
        return (x, x.t())

    @helion.kernel(static_shapes=True)
    def add_t(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for tile in hl.tile(x.size()):
            out[tile] = x[tile] + y[tile]
        return out

    # 16384 x 16384 fp32: 1 GiB per input if it were drawn.
    spec = _spec(add_t, lambda x, y: x + y, huge, name="huge_add", shapes=[(16384, 16384)], small_shapes=[])
    before = _rss_bytes()
    rec = execute.check_case(spec, CaseId("huge_add", (16384, 16384), "fp32", "default"), _opts("check"))
    grown = _rss_bytes() - before
    assert rec.category is Category.NOT_RUN, rec.message
    assert rec.mode == "compile-only" and rec.fields["compile_level"] == "check"
    assert len(made) == 1 and isinstance(made[0], FakeTensor)
    prep = prepare.for_group(spec, (16384, 16384), "fp32", 0, "cpu", False)
    assert not prep.materialized
    x, y = prep.inputs
    assert (tuple(x.shape), x.stride(), tuple(y.shape), y.stride()) == (
        (16384, 16384),
        (16384, 1),
        (16384, 16384),
        (1, 16384),
    )
    assert grown < 256 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"


def test_inputs_that_need_data_are_materialized_for_compile_only_cases() -> None:
    if local_cuda_target() is not None:
        pytest.skip("on a GPU every case runs: inputs are materialized")

    def data_dependent(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[Any, ...]:
        x = torch.randn(shape, generator=gen).to(dtype)
        return (x / float(x.abs().max()),)  # float(): reads a value

    spec = _spec(double, lambda x: 2 * x, data_dependent, name="data_dep", shapes=[(64, 32)], small_shapes=[])
    rec = execute.check_case(spec, CaseId("data_dep", (64, 32), "fp32", "default"), _opts("off"))
    assert rec.category is Category.NOT_RUN and rec.mode == "codegen-only", rec.message
    assert prepare.for_group(spec, (64, 32), "fp32", 0, "cpu", False).materialized


# --- F. small shapes are compiled for the target before the interpreter runs them -------------


def test_auto_compiles_every_cpu_case_at_check() -> None:
    cpu = run_options.RunOptions(sweep_seed=0, target=TARGETS[DEFAULT_TARGET], native=False, n_configs=0)
    assert cpu.compile_level(executes=True) == cpu.compile_level(executes=False) == "check"
    gpu = dataclasses.replace(cpu, native=True)
    assert gpu.compile_level(executes=True) == "full"
    assert dataclasses.replace(cpu, compile="off").compile_level(executes=True) is None


def _load(path: Path) -> Any:
    module_spec = importlib.util.spec_from_file_location(f"kcheck_test_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_small_shape_the_interpreter_passes_fails_the_compile_check() -> None:
    """causal_attention's ``wide_q`` config on a 16x16 fp16 problem: the interpreter computes it
    correctly, Triton's TritonGPURemoveLayoutConversions pass crashes on it for sm_90 (as the
    H200 run reported). With ``--compile auto`` the CPU run now finds that too."""
    if local_cuda_target() is not None:
        pytest.skip("on a GPU every case is compiled fully before it runs")
    module = _load(ROOT / "kernels" / "attention.py")
    bundled = next(s for s in module.SPECS if s.name == "causal_attention")
    # The bundled spec dropped wide_q for this crash; the attention spec still declares it.
    spec = dataclasses.replace(bundled, configs={**bundled.configs, "wide_q": module.SPEC.configs["wide_q"]})
    case = CaseId("causal_attention", (1, 2, 16, 16), "fp16", "wide_q")
    interpreted = execute.check_case(spec, case, _opts("off"))
    assert interpreted.category is Category.PASSED, interpreted.message
    checked = execute.check_case(spec, case, _opts("auto"))
    assert checked.category is Category.COMPILER_CRASH, checked.message
    assert checked.fields["pass"] == "TritonGPURemoveLayoutConversions"
    assert checked.mode == "interpreter" and "run" not in checked.stages
    # The compiler's lines named the generated module in a scratch directory that is gone once
    # the run ends: the message says so instead of naming it (issue 25 item 9).
    assert "/kcheck-" not in checked.message and "<scratch>/kcheck_gen_" in checked.message
    assert checked.message.endswith(diagnostics.GONE_NOTE), checked.message
    # A case that compiles still runs, its record carrying the compile's fields.
    ok = execute.check_case(spec, dataclasses.replace(case, config="default"), _opts("auto"))
    assert ok.category is Category.PASSED and ok.fields["compile_level"] == "check", ok.message


# --- validation -------------------------------------------------------------------------------


def _base() -> dict[str, Any]:
    return dict(
        name="vspec",
        kernel=add_into,
        reference=_add_into_reference,
        make_inputs=_two_randn,
        shapes=[],
        small_shapes=[(6, 16)],
        dtypes=[torch.float32],
        configs={"default": DEFAULT},
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mutates": ["out"]}, "mutates names 'out', which is not a parameter of the kernel ['acc', 'x']"),
        ({"mutates": "acc"}, "mutates must be a sequence of parameter names"),
        ({"mutates": ["acc", "acc"]}, "mutates lists a parameter twice"),
        ({"reference_device": "cuda"}, "reference_device 'cuda'; expected one of [None, 'cpu']"),
        ({"outputs": [Output("y"), Output("y")]}, "outputs[1] ('y'): name used twice"),
        ({"outputs": [Output("not a name")]}, "outputs[0] ('not a name'): name must be an identifier"),
        ({"outputs": [Output("y", compare=False)]}, "outputs[0] ('y'): compare=False needs a reason"),
        ({"outputs": ["y"]}, "outputs[0] must be an Output"),
        (
            {"outputs": [Output("y", dtype={torch.float16: torch.int32})]},
            "dtype for torch.float16, which the spec",
        ),
        (
            {"outputs": [Output("y", dtype=torch.int32, tolerances={torch.float32: Tolerance(1, 1, "x")})]},
            "outputs[0] ('y'): tolerances for torch.float32: integer and bool outputs compare exactly",
        ),
        ({"outputs": [Output("y", tolerances={torch.float32: Tolerance(1, 1)})]}, "needs a reason"),
        (
            {"outputs": [Output("y", reduction_length=lambda s: 0)]},
            "outputs[0] ('y'): reduction_length(6, 16) = 0",
        ),
        (
            {"mutates": ["acc"], "outputs": [Output("acc", dtype=torch.float16)]},
            "dtype of a mutated argument",
        ),
        (
            {"mutates": ["acc"], "outputs": [Output("acc", compare=False, reason="discarded")]},
            "outputs compares nothing",
        ),
        ({"dtypes": [torch.int32], "tolerances": {torch.int32: Tolerance(1, 1, "x")}}, "compare exactly"),
        # (True, 16) passed as a shape and its record was later dropped by kcheck report as corrupt.
        ({"shapes": [(True, 16)]}, "shape (True, 16) must be a tuple of positive ints"),
        ({"small_shapes": [[4, 16]]}, "shape [4, 16] must be a tuple of positive ints"),
        ({"shapes": [(4.0, 16)]}, "shape (4.0, 16) must be a tuple of positive ints"),
        (
            {"outputs": [Output("y", tolerances={torch.float16: Tolerance(1, 1, "x")})]},
            "outputs[0] ('y'): tolerances for torch.float16, which the spec does not sweep",
        ),
    ],
)
def test_spec_errors_name_the_kernel_and_the_field(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=r"^kernel spec 'vspec': .*" + re.escape(message)):
        KernelSpec(**{**_base(), **extra}).validate()


def test_a_spec_without_the_new_fields_is_unchanged() -> None:
    spec = KernelSpec(
        **{**_base(), "kernel": double, "reference": lambda x: 2 * x, "make_inputs": _randn},
        # An override for a dtype the spec no longer sweeps stays valid, as before.
        tolerances={torch.float16: Tolerance(1e-2, 1e-2, "kept from an earlier sweep")},
    )
    spec.validate()
    assert (spec.outputs, spec.mutates, spec.reference_device) == ((), (), None)
    rec = _check(spec)
    assert rec.category is Category.PASSED and "uncompared" not in rec.fields and "outputs" not in rec.fields
