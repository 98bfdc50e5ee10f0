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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

#: Short dtype names used in case ids and reports.
DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.float8_e4m3fn: "fp8e4m3",
    torch.float8_e5m2: "fp8e5m2",
}
DTYPES_BY_NAME: dict[str, torch.dtype] = {v: k for k, v in DTYPE_NAMES.items()}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
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
            Helion's default ``dot_precision`` for fp32 dots on GPUs) or ``"fp8-fast-accum"``
            (fp8 MMAs with reduced-precision accumulation); see ``numerics.DOT_PRECISIONS``.
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
            ``{"tma": "CHECK: tl.make_tensor_descriptor"}`` (checker/golden/expect.py).
        sample_configs: False checks the named configs only, whatever ``--configs`` says (for
            kernels whose behaviour is defined by one config, such as the fault-injection set).
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
            if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
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
        for dtype, tol in self.tolerances.items():
            if not tol.reason.strip():
                raise SpecError(f"{where}: tolerance override for {dtype} needs a reason")
        self._validate_numerics(where)
        self._validate_golden(where)

    def _validate_numerics(self, where: str) -> None:
        from checker.numerics import DOT_PRECISIONS

        for dtype, name in self.dot_precision.items():
            if dtype not in self.dtypes:
                raise SpecError(f"{where}: dot_precision for {dtype}, which the spec does not sweep")
            if name not in DOT_PRECISIONS:
                known = sorted(DOT_PRECISIONS)
                raise SpecError(f"{where}: dot_precision {name!r} for {dtype}; known: {known}")
        if self.reduction_length is None:
            return
        for shape in [*self.shapes, *self.small_shapes]:
            k = self.reduction_length(tuple(shape))
            # bool is an int: a predicate passed by mistake must not read as K = 1.
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise SpecError(f"{where}: reduction_length{tuple(shape)} = {k!r}, expected a positive int")

    def _validate_golden(self, where: str) -> None:
        from checker.golden.expect import ExpectationError, validate_checks

        golden = self.golden
        if not isinstance(golden, GoldenTracking):
            raise SpecError(f"{where}: golden must be a GoldenTracking, got {type(golden)}")
        for cname in golden.configs or ():
            if cname not in self.configs:
                raise SpecError(f"{where}: golden tracks config {cname!r}, which is not a named config")
        for dtype in golden.dtypes or ():
            if dtype not in self.dtypes:
                raise SpecError(f"{where}: golden tracks dtype {dtype}, which the spec does not sweep")
        if golden.shape is not None and (
            not golden.shape or not all(isinstance(d, int) and d > 0 for d in golden.shape)
        ):
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
        """The dtype the kernel's outputs must have when swept at ``dtype``."""
        return self.output_dtypes.get(dtype, dtype)

    def is_small(self, shape: tuple[int, ...]) -> bool:
        return tuple(shape) in {tuple(s) for s in self.small_shapes}


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
    return found
