"""The kernel spec API: what a kernel module declares so the checker can sweep it.

A kernel module (in this repo's ``kernels/`` or any directory listed in the ``kcheck_kernel_paths``
ini option) defines a module-level ``SPEC`` (one :class:`KernelSpec`) or ``SPECS`` (a list)::

    SPEC = KernelSpec(
        name="rms_norm",
        kernel=rms_norm,                       # a @helion.kernel
        reference=rms_norm_reference,          # torch code, called on float64 copies of inputs
        make_inputs=make_inputs,               # (shape, dtype, generator) -> tuple of args
        shapes=[(2048, 4096), (1000, 1023)],   # full shapes: native on GPU, codegen-only on CPU
        small_shapes=[(33, 128)],              # also run under the Triton interpreter on CPU
        dtypes=[torch.float32, torch.bfloat16],
        configs={"default": DEFAULT, "wide": helion.Config(block_sizes=[1], num_warps=8)},
        tolerances={torch.bfloat16: Tolerance(2e-2, 1e-2, reason="...")},
    )

The full description, with every field's meaning, is in docs/kernel-spec.md.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from checker.blame import CaseFault

#: Short dtype names used in case ids and reports.
DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.float8_e4m3fn: "fp8e4m3",
    torch.float8_e5m2: "fp8e5m2",
    # Integer and bool sweeps compare exactly (no tolerance policy): checker/numerics.py.
    torch.int8: "i8",
    torch.int16: "i16",
    torch.int32: "i32",
    torch.int64: "i64",
    torch.uint8: "u8",
    torch.bool: "bool",
}
DTYPES_BY_NAME: dict[str, torch.dtype] = {v: k for k, v in DTYPE_NAMES.items()}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Values of ``KernelSpec.reference_device``: None (the kernel's device) or ``"cpu"``.
REFERENCE_DEVICES = (None, "cpu")


def is_exact_dtype(dtype: torch.dtype) -> bool:
    """True for integer and bool dtypes, whose outputs are compared exactly (no tolerance)."""
    return not (dtype.is_floating_point or dtype.is_complex)


def is_shape(shape: Any) -> bool:
    """Whether ``shape`` is a non-empty tuple of positive ints. ``bool`` is an ``int`` to
    Python, but ``(True, 16)`` is no shape: its case id and record would not survive the round
    trip through results.jsonl (``kcheck report`` dropped such a record as corrupt)."""
    return (
        isinstance(shape, tuple)
        and bool(shape)
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    )


class SpecError(CaseFault, ValueError):
    """A kernel spec is malformed; the message names the kernel and the field."""


@dataclass(frozen=True)
class DefaultConfig:
    """Sentinel for Helion's own ``config_spec.default_config()`` of the bound kernel.

    Helion derives it from the device it sees (num_warps 4 on CPU tensors, 8 on an H100 for
    rms_norm, measured 2026-11), so the code it yields can differ between CPU and GPU runs.
    """

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = DefaultConfig()


@dataclass(frozen=True)
class Tolerance:
    """An (rtol, atol) pair for ``|actual - expected| <= atol + rtol * |expected|``.

    ``reason`` says why the kernel needs it; an override without a reason is rejected.
    """

    rtol: float
    atol: float
    reason: str = ""


@dataclass(frozen=True)
class DotPrecision:
    """How a kernel's dots and reductions round, beyond what the float64 reference sees.

    Attributes:
        operand_u: unit roundoff the dot's operands are rounded to inside the kernel (0: the
            operands are used as given).
        accumulate_u: unit roundoff of the accumulator (per addition).
        source: where the numbers come from.
        rounded_operands: how many operands of each product are rounded to ``operand_u``: 2 when
            the hardware reads both (tf32), 1 when the kernel rounds one itself (attention's P,
            cast to the input dtype before the P@V dot, against V already in that dtype).
    """

    name: str
    operand_u: float
    accumulate_u: float
    source: str
    rounded_operands: int = 2


_FP32_ACC = 2.0**-23
#: The values a spec's ``dot_precision`` may name, with their rounding models; the spec
#: validates names against it and ``numerics.tolerance_for`` turns a model into tolerance terms
#: (docs/numerics.md).
DOT_PRECISIONS: dict[str, DotPrecision] = {
    "ieee": DotPrecision(
        "ieee",
        0.0,
        _FP32_ACC,
        "fp32 accumulation, round-toward-zero u = 2**-23 (Fasi et al. 2021: tensor cores truncate)",
    ),
    "tf32": DotPrecision(
        "tf32",
        2.0**-10,
        _FP32_ACC,
        "fp32 operands read as tf32 (10-bit mantissa, truncated: u = 2**-10), fp32 accumulation",
    ),
    "fp8-fast-accum": DotPrecision(
        "fp8-fast-accum",
        0.0,
        2.0**-13,
        "fp8 MMA accumulation keeps ~14 bits (DeepSeek-V3 report, 3.3.2; Triton's default "
        "max_num_imprecise_acc on sm_90), truncated: u = 2**-13",
    ),
    # One operand rounded to the input dtype inside the kernel, the other already in it: the
    # reference sees the unrounded value (docs/numerics.md#an-operand-rounded-in-the-kernel).
    "fp16-operand": DotPrecision(
        "fp16-operand",
        2.0**-11,
        _FP32_ACC,
        "one dot operand rounded to fp16 inside the kernel (IEEE binary16, 10-bit mantissa, "
        "round to nearest: u = 2**-11), fp32 accumulation",
        rounded_operands=1,
    ),
    "bf16-operand": DotPrecision(
        "bf16-operand",
        2.0**-8,
        _FP32_ACC,
        "one dot operand rounded to bf16 inside the kernel (7-bit mantissa, round to nearest: "
        "u = 2**-8), fp32 accumulation",
        rounded_operands=1,
    ),
}


@dataclass(frozen=True)
class Output:
    """One output of a kernel, for kernels that return several or write arguments in place.

    Listed in ``KernelSpec.outputs``. An entry whose ``name`` is in ``KernelSpec.mutates``
    describes that argument (compared after the launch); every other entry describes one
    returned output, in the order the kernel returns them. Fields left None inherit the spec's.

    Attributes:
        name: the output's name in messages (``output 'mean': ...``); an identifier.
        dtype: the dtype the kernel must return for this output: one dtype whatever the sweep
            (``torch.int64`` indices), a mapping swept dtype -> dtype, or None for the spec's
            ``output_dtypes`` (the swept dtype by default). Not allowed for a mutated argument,
            which keeps its own dtype.
        tolerances: per swept dtype ``Tolerance`` overrides (each with a reason) for this output;
            dtypes missing here use the spec's ``tolerances``, then the policy. Integer and bool
            outputs are always compared exactly, so they take none.
        reduction_length: ``shape -> K`` for this output (a row sum's K is not a row max's);
            None inherits the spec's ``reduction_length``; ``lambda shape: 1`` means none.
        compare: False leaves the output uncompared (its count still must match); ``reason``
            must then say why, and the record lists it under ``fields["uncompared"]``.
        reason: why the output is not compared (required when ``compare`` is False).
    """

    name: str
    dtype: torch.dtype | Mapping[torch.dtype, torch.dtype] | None = None
    tolerances: Mapping[torch.dtype, Tolerance] = field(default_factory=dict)
    reduction_length: Callable[[tuple[int, ...]], int] | None = None
    compare: bool = True
    reason: str = ""

    def dtype_for(self, swept: torch.dtype) -> torch.dtype | None:
        """The dtype this output must have at swept dtype ``swept``; None: the spec decides."""
        if isinstance(self.dtype, torch.dtype):
            return self.dtype
        if self.dtype is None:
            return None
        return self.dtype.get(swept)


@dataclass(frozen=True)
class GoldenTracking:
    """Which cases of a spec have their generated code compared with golden files.

    Tracked cases are the named configs (never sampled ones) on one canonical shape, for each
    tracked dtype. Sources and layout of golden files: docs/goldens.md.

    Attributes:
        configs: names of the tracked named configs; None tracks all of them.
        dtypes: tracked dtypes; None tracks all the spec's dtypes.
        shape: the canonical shape; None takes the spec's first full shape (its first small
            shape when it declares no full ones).
        enabled: False tracks no case (``expectations`` are still checked).
    """

    configs: Sequence[str] | None = None
    dtypes: Sequence[torch.dtype] | None = None
    shape: tuple[int, ...] | None = None
    enabled: bool = True


@dataclass(frozen=True, eq=False)
class KernelSpec:
    """Everything the checker needs to sweep one Helion kernel.

    Specs compare and hash by identity (they hold dicts and functions).

    Attributes:
        name: case-id prefix, lower snake case (``rms_norm``); unique within a run.
        kernel: the ``helion.Kernel`` (the object ``@helion.kernel`` returns).
        reference: PyTorch implementation. Called with the same inputs, floating tensors upcast to
            ``reference_dtype`` (float64 by default); returns a tensor or a tuple of tensors
            shaped like the kernel's outputs.
        make_inputs: ``(shape, dtype, generator) -> tuple`` of kernel arguments, created on the CPU
            from the seeded ``torch.Generator`` (the checker moves tensors to the device). Must
            never produce all-zero tensors. ``shape`` is one entry of ``shapes``/``small_shapes``.
        shapes: problem shapes (tuples of ints) checked natively on a GPU; on a CPU-only machine
            they go through code generation only.
        small_shapes: shapes small enough for the Triton interpreter (seconds per case); run on
            CPU and GPU.
        dtypes: the dtypes to sweep; names in ``DTYPE_NAMES``.
        configs: named configs: a ``helion.Config`` or ``DEFAULT`` (Helion's default config).
        tolerances: per-dtype (rtol, atol) overrides, each with a reason; an override replaces
            the whole tolerance policy for that dtype (checker/numerics.py, docs/numerics.md).
        dot_precision: per swept dtype, how the kernel's dots round: ``"ieee"`` (the default:
            operands as given, fp32 accumulation), ``"tf32"`` (fp32 operands read as tf32,
            Helion's default ``dot_precision`` for fp32 dots on GPUs), ``"fp8-fast-accum"``
            (fp8 MMAs with reduced-precision accumulation), ``"fp16-operand"`` or
            ``"bf16-operand"`` (one operand rounded to that dtype inside the kernel, such as
            attention's P before P@V); see :data:`DOT_PRECISIONS`.
        reduction_length: ``shape -> K``, the number of terms each output element accumulates
            (K of a matmul, the normalized dimension of a norm); the tolerance grows with
            sqrt(K). None: no reduction.
        output_dtypes: dtype the kernel's outputs must have, by swept dtype; missing entries
            mean "the swept dtype" (fp8 kernels typically return bf16 or fp32).
        reference_dtype: precision the reference runs in.
        description: one line for reports.
        golden: which cases are compared with golden files (default: every named config on
            the first full shape, every dtype); see :class:`GoldenTracking`.
        expectations: FileCheck directives per named config that its generated code (on the
            canonical golden shape, every dtype) must satisfy, e.g.
            ``{"tma": "CHECK: tl.make_tensor_descriptor"}`` (checker/expect.py).
        sample_configs: False checks the named configs only, whatever ``--configs`` says (for
            kernels whose behaviour is defined by one config, such as the fault-injection set).
        outputs: per-output settings (:class:`Output`): names, dtypes, tolerances, reduction
            lengths, outputs left uncompared. Empty: every returned output is compared with the
            spec-level settings and named by its index.
        mutates: names of kernel parameters (as the kernel function spells them) the kernel
            writes in place. Each is compared after the launch with the same argument of the
            reference, which is called on copies and must update them likewise. Every other
            tensor argument must come back bit for bit unchanged, else ``input-mutated``.
        reference_device: None runs the reference on the kernel's device; ``"cpu"`` runs it on
            CPU copies of the inputs (references built on CPU-only helpers).
    """

    name: str
    kernel: Any
    reference: Callable[..., Any]
    make_inputs: Callable[[tuple[int, ...], torch.dtype, torch.Generator], tuple[Any, ...]]
    shapes: Sequence[tuple[int, ...]]
    small_shapes: Sequence[tuple[int, ...]]
    dtypes: Sequence[torch.dtype]
    configs: Mapping[str, Any]
    tolerances: Mapping[torch.dtype, Tolerance] = field(default_factory=dict)
    dot_precision: Mapping[torch.dtype, str] = field(default_factory=dict)
    reduction_length: Callable[[tuple[int, ...]], int] | None = None
    output_dtypes: Mapping[torch.dtype, torch.dtype] = field(default_factory=dict)
    reference_dtype: torch.dtype = torch.float64
    description: str = ""
    golden: GoldenTracking = field(default_factory=GoldenTracking)
    expectations: Mapping[str, str] = field(default_factory=dict)
    sample_configs: bool = True
    outputs: Sequence[Output] = ()
    mutates: Sequence[str] = ()
    reference_device: str | None = None

    def validate(self) -> None:
        """Check the declaration.

        Raises:
            SpecError: naming the kernel and the offending field.
        """
        where = f"kernel spec {self.name!r}"
        if not _NAME_RE.match(self.name):
            raise SpecError(f"{where}: name must match {_NAME_RE.pattern}")
        if not hasattr(self.kernel, "bind"):
            raise SpecError(f"{where}: kernel must be a @helion.kernel, got {type(self.kernel)}")
        if not self.shapes and not self.small_shapes:
            raise SpecError(f"{where}: declares no shapes")
        for shape in [*self.shapes, *self.small_shapes]:
            if not is_shape(shape):
                raise SpecError(f"{where}: shape {shape!r} must be a tuple of positive ints")
        if not self.dtypes:
            raise SpecError(f"{where}: declares no dtypes")
        for dtype in self.dtypes:
            if dtype not in DTYPE_NAMES:
                raise SpecError(f"{where}: unsupported dtype {dtype}")
        if not self.configs:
            raise SpecError(f"{where}: declares no named configs")
        for cname, config in self.configs.items():
            if not _NAME_RE.match(cname) or re.fullmatch(r"cfg\d+", cname):
                raise SpecError(
                    f"{where}: config name {cname!r} must match {_NAME_RE.pattern} and not "
                    "look like a sampled config (cfgN)"
                )
            if not isinstance(config, DefaultConfig) and not hasattr(config, "config"):
                raise SpecError(f"{where}: config {cname!r} must be a helion.Config or DEFAULT")
        # Not checked against the swept dtypes: specs from before per-output settings may keep
        # an override for a dtype they no longer sweep.
        _validate_tolerances(where, "tolerances", self.tolerances, ())
        for dtype in self.tolerances:
            # With per-output dtypes some output may still be floating at this sweep.
            if not self.outputs and is_exact_dtype(self.output_dtype(dtype)):
                raise SpecError(
                    f"{where}: tolerances for {dtype}: its outputs are {self.output_dtype(dtype)}, "
                    "and integer and bool outputs compare exactly"
                )
        if self.reference_device not in REFERENCE_DEVICES:
            raise SpecError(
                f"{where}: reference_device {self.reference_device!r}; "
                f"expected one of {list(REFERENCE_DEVICES)}"
            )
        self._validate_numerics(where)
        self._validate_outputs(where)
        self._validate_golden(where)

    def _validate_numerics(self, where: str) -> None:
        for dtype, name in self.dot_precision.items():
            if dtype not in self.dtypes:
                raise SpecError(f"{where}: dot_precision for {dtype}, which the spec does not sweep")
            if name not in DOT_PRECISIONS:
                known = sorted(DOT_PRECISIONS)
                raise SpecError(f"{where}: dot_precision {name!r} for {dtype}; known: {known}")
        if self.reduction_length is not None:
            self._validate_reduction_length(where, "reduction_length", self.reduction_length)

    def _validate_reduction_length(self, where: str, what: str, fn: Callable[[tuple[int, ...]], int]) -> None:
        for shape in [*self.shapes, *self.small_shapes]:
            k = fn(tuple(shape))
            # bool is an int: a predicate passed by mistake must not read as K = 1.
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise SpecError(f"{where}: {what}{tuple(shape)} = {k!r}, expected a positive int")

    def _validate_outputs(self, where: str) -> None:
        if isinstance(self.mutates, str):
            raise SpecError(
                f"{where}: mutates must be a sequence of parameter names, not the string {self.mutates!r}"
            )
        params = self.parameter_names()
        for arg in self.mutates:
            if arg not in params:
                raise SpecError(
                    f"{where}: mutates names {arg!r}, which is not a parameter of the kernel {params}"
                )
        if len(set(self.mutates)) != len(self.mutates):
            raise SpecError(f"{where}: mutates lists a parameter twice: {list(self.mutates)}")
        seen: set[str] = set()
        for i, out in enumerate(self.outputs):
            if not isinstance(out, Output):
                raise SpecError(f"{where}: outputs[{i}] must be an Output, got {type(out).__name__}")
            at = f"{where}: outputs[{i}] ({out.name!r})"
            if not isinstance(out.name, str) or not out.name.isidentifier():
                raise SpecError(f"{at}: name must be an identifier")
            if out.name in seen:
                raise SpecError(f"{at}: name used twice")
            seen.add(out.name)
            if not out.compare and not out.reason.strip():
                raise SpecError(f"{at}: compare=False needs a reason")
            if out.name in self.mutates and out.dtype is not None:
                raise SpecError(f"{at}: dtype of a mutated argument is the argument's own; drop it")
            if isinstance(out.dtype, Mapping):
                for swept, dt in out.dtype.items():
                    if swept not in self.dtypes:
                        raise SpecError(f"{at}: dtype for {swept}, which the spec does not sweep")
                    if not isinstance(dt, torch.dtype):
                        raise SpecError(f"{at}: dtype for {swept} must be a torch.dtype, got {dt!r}")
            elif out.dtype is not None and not isinstance(out.dtype, torch.dtype):
                raise SpecError(f"{at}: dtype must be a torch.dtype or a mapping, got {out.dtype!r}")
            _validate_tolerances(at, "tolerances", out.tolerances, self.dtypes)
            for swept in out.tolerances:
                if out.name not in self.mutates and is_exact_dtype(
                    out.dtype_for(swept) or self.output_dtype(swept)
                ):
                    raise SpecError(f"{at}: tolerances for {swept}: integer and bool outputs compare exactly")
            if out.reduction_length is not None:
                self._validate_reduction_length(at, "reduction_length", out.reduction_length)
        if self.outputs and not any(o.compare for o in self.outputs) and not (set(self.mutates) - seen):
            raise SpecError(f"{where}: outputs compares nothing; at least one output must be compared")

    def named_config(self, name: str) -> Any:
        """The config a case called ``name`` runs (``configs[name]``; a plain Triton spec also
        knows the configs of its autotune list, checker/triton_spec.py).

        Raises:
            KeyError: no such config.
        """
        return self.configs[name]

    def drawn_configs(self, count: int, seed: int) -> list[str] | None:
        """Names of the ``count`` sampled configs of one (shape, dtype) group drawn under
        ``seed``, when the spec draws them itself at collection (a plain Triton kernel's
        autotune list); None: ``cfg0``... drawn at run time from the config space."""
        return None

    def declared_in(self, module: Any) -> None:
        """Told by :func:`specs_of_module` which module declares this spec (a plain Triton spec
        resolves its kernel through it in every process); nothing to do for a Helion spec."""

    def parameter_names(self) -> list[str]:
        """The kernel function's parameter names, in order (``make_inputs`` supplies them so)."""
        fn = getattr(self.kernel, "fn", self.kernel)
        try:
            return list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            return []

    def _validate_golden(self, where: str) -> None:
        from checker.expect import ExpectationError, validate_checks

        golden = self.golden
        if not isinstance(golden, GoldenTracking):
            raise SpecError(f"{where}: golden must be a GoldenTracking, got {type(golden)}")
        for cname in golden.configs or ():
            if cname not in self.configs:
                raise SpecError(f"{where}: golden tracks config {cname!r}, which is not a named config")
        for dtype in golden.dtypes or ():
            if dtype not in self.dtypes:
                raise SpecError(f"{where}: golden tracks dtype {dtype}, which the spec does not sweep")
        if golden.shape is not None and not is_shape(golden.shape):
            raise SpecError(f"{where}: golden shape {golden.shape!r} must be a tuple of positive ints")
        for cname, checks in self.expectations.items():
            if cname not in self.configs:
                raise SpecError(f"{where}: expectations for {cname!r}, which is not a named config")
            try:
                validate_checks(checks, f"expectations[{cname!r}]")
            except ExpectationError as exc:
                raise SpecError(f"{where}: {exc}") from None

    @property
    def all_shapes(self) -> list[tuple[int, ...]]:
        """Small shapes first, then full shapes, without duplicates."""
        seen: list[tuple[int, ...]] = []
        for shape in [*self.small_shapes, *self.shapes]:
            if shape not in seen:
                seen.append(tuple(shape))
        return seen

    def output_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """The dtype the kernel's outputs must have when swept at ``dtype`` (spec-level; an
        :class:`Output` may set its own)."""
        return self.output_dtypes.get(dtype, dtype)

    def returned_outputs(self) -> list[Output]:
        """The ``outputs`` entries that describe returned outputs (not mutated arguments)."""
        return [o for o in self.outputs if o.name not in self.mutates]

    def output_named(self, name: str) -> Output | None:
        """The ``outputs`` entry called ``name``, or None."""
        return next((o for o in self.outputs if o.name == name), None)

    def is_small(self, shape: tuple[int, ...]) -> bool:
        return tuple(shape) in {tuple(s) for s in self.small_shapes}


def _validate_tolerances(
    where: str, what: str, tolerances: Mapping[torch.dtype, Tolerance], swept: Sequence[torch.dtype]
) -> None:
    for dtype, tol in tolerances.items():
        if not isinstance(tol, Tolerance):
            raise SpecError(f"{where}: {what} for {dtype} must be a Tolerance, got {tol!r}")
        if not tol.reason.strip():
            raise SpecError(f"{where}: tolerance override for {dtype} needs a reason")
        if swept and dtype not in swept:
            raise SpecError(f"{where}: {what} for {dtype}, which the spec does not sweep")


def specs_of_module(module: Any) -> list[KernelSpec]:
    """The specs a kernel module declares (``SPEC`` or ``SPECS``), validated.

    Raises:
        SpecError: the module declares neither, or a spec is malformed.
    """
    found: list[Any] = []
    if hasattr(module, "SPEC"):
        found.append(module.SPEC)
    found.extend(getattr(module, "SPECS", []))
    if not found:
        raise SpecError(f"{module.__name__}: defines neither SPEC nor SPECS")
    for spec in found:
        if not isinstance(spec, KernelSpec):
            raise SpecError(f"{module.__name__}: SPEC must be a KernelSpec, got {type(spec)}")
        spec.validate()
        spec.declared_in(module)
    return found
