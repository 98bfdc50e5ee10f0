"""What a case is checked with: its inputs, the reference outputs, its config and its code.

One implementation for every caller: the case path (``execute.check_case``), the benchmark
(checker/perf/bench.py), the standalone reproducer (checker/triage/repro.py) and goldens
(checker/golden/cases.py), so each makes the same inputs from the same seed, the same reference
outputs and the same configs and code.

- Inputs: the spec's ``make_inputs(shape, dtype, gen)`` with ``gen`` seeded by
  :func:`input_seed` (``--sweep-seed`` x kernel x shape x dtype), all-zero data tensors refused,
  moved to the case's device (:func:`make_inputs`); by layout only for cases that never read
  values (:func:`layout_inputs`).
- The reference: the spec's reference on copies of the inputs, upcast to ``reference_dtype``, on
  ``reference_device`` when set, under ``torch.no_grad`` (:func:`reference_outputs`).
- The config: named (Helion's default resolved with the stage cache), sampled (drawn with the
  stage cache) or an override (:func:`config_for`); the code generated for it, with the stage
  cache (:func:`generate`).

A case worker keeps the last 8 (kernel, shape, dtype) groups (:func:`for_group`): their inputs,
bound kernel, reference and sampled configs, shared by the group's config cases.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any

import torch

from checker import codegen
from checker.blame import CaseFault
from checker.cache import keys
from checker.cache import stages as stage_entries
from checker.categories import Category
from checker.model import CaseId
from checker.numerics import all_zero_inputs
from checker.run_options import RunOptions
from checker.spec import DTYPES_BY_NAME, DefaultConfig, KernelSpec, SpecError
from checker.sweep import derived_seed, sample_configs, sampled_index


class CaseFailure(Exception):
    """A case's own verdict found while preparing it (a spec at fault, a config that does not
    exist): ``category`` and record ``fields``; the message is the record's."""

    def __init__(self, category: Category, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.category = category
        self.fields = fields


class ReferenceOutputError(CaseFault, TypeError):
    """A spec's reference returned something that is not a tensor (None: a missing return)."""


def escapes(exc: BaseException) -> bool:
    """Exceptions a case must not turn into its own record: Ctrl-C, and pytest's ``Failed``,
    which pytest-timeout raises (signal method) when a case without isolation runs too long;
    the plugin records that case ``run-timeout``."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    # Looked up, not imported: a case worker never imports pytest unless a spec does.
    outcomes = sys.modules.get("_pytest.outcomes")
    return outcomes is not None and isinstance(exc, outcomes.Failed)


@dataclass(frozen=True)
class Expected:
    """What the reference produced: its returned outputs (on the reference's device), and the
    mutated arguments after it ran, by argument index."""

    returned: list[Any]
    mutated: dict[int, torch.Tensor]


@dataclass
class Prepared:
    """Per (kernel, shape, dtype) state shared by its config cases in one process.

    ``materialized`` is False when the inputs are stand-ins on the ``meta`` device with the
    layout ``make_inputs`` would give (cases that only generate or compile code, goldens): they
    hold no memory, and only a bind gets tensors on ``device``, uninitialized and for the bind
    alone. The kernel is bound to the inputs on first use (:attr:`bound`): a case whose config
    and code come from the stage cache never binds (Helion's bind traces the kernel).
    """

    inputs: tuple[Any, ...]
    kernel: Any
    materialized: bool = True
    #: Where a bind puts the stand-ins of inputs that are not materialized.
    device: str = "cpu"
    reference: Expected | BaseException | None = None
    samples: list[Any] | None = None
    _bound: Any = None
    #: The stage cache's key of this group (False: not computed yet; None: not cacheable).
    group_key: keys.KernelKey | bool | None = False

    @property
    def bound(self) -> Any:
        """The kernel bound to this group's inputs, bound afresh: Helion keeps one BoundKernel per
        specialization key, and for a ``static_shapes=False`` kernel that key ignores sizes, so
        a later group of other sizes got the first group's BoundKernel, whose size hints decide
        the default config and the config space. Which group a process met first then decided a
        case's config: ``ex_moe_matmul_ogs[13x20x24x5-fp32-default]`` ran block sizes [8, 16, 16]
        in one H100 run and [4, 16, 16] in the next (session 13). A fresh bind is what a process
        that calls the kernel with these inputs first gets."""
        if self._bound is None:
            reset = getattr(self.kernel, "reset", None)
            if callable(reset):
                reset()
            if self.materialized:
                self._bound = self.kernel.bind(self.inputs)
            else:
                # Device tensors for the bind only: stand-ins kept on the GPU by every xdist worker
                # that ran golden checks (8 groups each, a CUDA context each) took the memory the
                # case workers needed, and 5 of 861 warm golden checks of an H100 run failed
                # "CUDA error: out of memory" (2026-12-07, docs/gpu-runs.md). Helion keeps fake
                # tensors, not these (a plain Triton kernel's bind keeps them).
                self._bound = self.kernel.bind(on_device(self.inputs, self.device))
                if self.device != "cpu" and torch.cuda.is_initialized():
                    torch.cuda.empty_cache()
        return self._bound


def on_device(layout: tuple[Any, ...], device: str) -> tuple[Any, ...]:
    """``layout`` (arguments whose tensors may be on the ``meta`` device) with each meta tensor
    replaced by an uninitialized one of the same shape, strides and dtype on ``device``."""
    return tuple(
        _uninitialized(v, device) if isinstance(v, torch.Tensor) and v.is_meta else v for v in layout
    )


def _uninitialized(like: torch.Tensor, device: str) -> torch.Tensor:
    """An uninitialized tensor with ``like``'s shape, strides and dtype on ``device``."""
    return torch.empty_strided(tuple(like.shape), tuple(like.stride()), dtype=like.dtype, device=device)


def to_device(value: Any, device: str) -> Any:
    """``value`` on ``device`` when it is a tensor, else unchanged."""
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _upcast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(torch.float32).to(dtype) if value.element_size() == 1 else value.to(dtype)
    return value


def clone(value: Any) -> Any:
    """A copy of ``value`` when it is a tensor (the kernel or reference may write it), else it,
    with the same strides: ``static_shapes`` kernels are compiled for the strides of the inputs
    they were bound to, and ``Tensor.clone`` makes an expanded tensor (a stride of 0, e.g. a
    per-row scale ``expand``-ed over columns, Helion's fp8_matmul example) contiguous: the kernel
    then read its scales with the bound strides from the wrong places, a mismatch the checker
    blamed on the kernel. An expanded tensor is copied once per distinct element and expanded
    again."""
    if not isinstance(value, torch.Tensor):
        return value
    expanded = any(size > 1 and stride == 0 for size, stride in zip(value.shape, value.stride(), strict=True))
    if value.numel() == 0 or not expanded:
        return value.clone()  # preserve_format: a transposed or sliced input keeps its strides
    distinct = value[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in value.stride())]
    copy = torch.empty_strided(distinct.shape, distinct.stride(), dtype=value.dtype, device=value.device)
    return copy.copy_(distinct).expand(value.shape)


def as_list(out: Any, in_place: bool = False) -> list[Any]:
    """A kernel's or reference's return value as a list of outputs; ``in_place``: the spec
    declares ``mutates``, and None then means no returned output."""
    # None is "no returned output" only for in-place kernels; elsewhere it stays a (non-tensor)
    # output, so a kernel that forgets its return fails as before.
    if in_place and out is None:
        return []
    return list(out) if isinstance(out, (tuple, list)) else [out]


def input_seed(spec: KernelSpec, shape: tuple[int, ...], dtype_name: str, sweep_seed: int) -> int:
    """The seed of ``make_inputs``'s generator for one (kernel, shape, dtype) under ``sweep_seed``."""
    return derived_seed(sweep_seed, spec.name, shape, dtype_name)


def layout_inputs(
    make_inputs: Any, shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator, device: str
) -> tuple[Any, ...] | None:
    """``make_inputs(shape, dtype, gen)`` by layout only, for cases that never read input values.

    ``make_inputs`` runs under ``FakeTensorMode`` (no data is created: a 4096x4096x4096 matmul's
    inputs cost nothing) and each tensor it returns is replaced by ``torch.empty_strided`` with
    the same shape, strides and dtype on ``device``: on ``meta`` no memory at all (enough for
    ``compile.describe_args`` and cache keys; :attr:`Prepared.bound` moves them to the case's
    device for a bind), elsewhere uninitialized memory that is never touched (on a CPU it is not
    resident; on a GPU it is allocated). Non-tensor arguments pass through unchanged.

    Returns:
        The argument tuple, or None when ``make_inputs`` cannot run without real data (it reads
        values: ``.item()``, data-dependent shapes, numpy); the caller then materializes.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode

    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            made = make_inputs(shape, dtype, gen)
    except Exception:
        return None
    if not isinstance(made, (tuple, list)):
        return None
    return tuple(_uninitialized(v, device) if isinstance(v, torch.Tensor) else v for v in made)


def make_inputs(
    spec: KernelSpec, shape: tuple[int, ...], dtype_name: str, sweep_seed: int, device: str
) -> tuple[Any, ...]:
    """The case's inputs with their values: ``spec.make_inputs`` seeded by :func:`input_seed`,
    each tensor moved to ``device``.

    Raises:
        CaseFailure: ``reference-error`` when ``make_inputs`` returns an all-zero data tensor
            (it would hide unwritten outputs: the spec is at fault, not the kernel) or does not
            return a tuple or list of arguments.
        Exception: whatever ``make_inputs`` raises.
    """
    gen = torch.Generator().manual_seed(input_seed(spec, shape, dtype_name, sweep_seed))
    return _materialize(spec, shape, dtype_name, gen, device)


def _materialize(
    spec: KernelSpec, shape: tuple[int, ...], dtype_name: str, gen: torch.Generator, device: str
) -> tuple[Any, ...]:
    dtype = DTYPES_BY_NAME[dtype_name]
    made = spec.make_inputs(shape, dtype, gen)
    if not isinstance(made, (tuple, list)):
        # Unpacking a bare tensor would pass its rows as the kernel's arguments: the failure
        # would then surface deep in the launch, blamed on the kernel or on kcheck.
        raise CaseFailure(
            Category.REFERENCE_ERROR,
            f"kernel spec {spec.name!r}: make_inputs{tuple(shape)} at {dtype_name} returned a "
            f"{type(made).__name__}, not a tuple of the kernel's arguments (for one input "
            "return (x,))",
        )
    zero = all_zero_inputs(made, dtype)
    if zero:
        raise CaseFailure(
            Category.REFERENCE_ERROR,
            f"kernel spec {spec.name!r}: make_inputs{tuple(shape)} at {dtype_name} returned an "
            f"all-zero data tensor as input {zero[0]}; all-zero inputs hide unwritten outputs",
            input_index=zero[0],
        )
    return tuple(to_device(v, device) for v in made)


@functools.lru_cache(maxsize=8)
def for_group(
    spec: KernelSpec,
    shape: tuple[int, ...],
    dtype_name: str,
    seed: int,
    device: str,
    materialize: bool = True,
) -> Prepared:
    """Inputs and the bound kernel of one (kernel, shape, dtype) group, kept for its cases.

    ``materialize`` False (the group's cases only generate or compile code) keeps inputs by
    layout only, on the ``meta`` device (:func:`layout_inputs`; a bind puts them on ``device``
    for its duration), unless ``make_inputs`` needs real data; the
    all-zero check (:func:`make_inputs`) applies to materialized inputs, which every case that
    runs has.

    Raises:
        CaseFailure: see :func:`make_inputs`.
    """
    gen = torch.Generator().manual_seed(input_seed(spec, shape, dtype_name, seed))
    if not materialize:
        layout = layout_inputs(spec.make_inputs, shape, DTYPES_BY_NAME[dtype_name], gen, "meta")
        if layout is not None:
            return Prepared(inputs=layout, kernel=spec.kernel, materialized=False, device=device)
    # The same generator: when the layout could not be made, make_inputs runs after its try.
    return Prepared(inputs=_materialize(spec, shape, dtype_name, gen, device), kernel=spec.kernel)


def clear_caches() -> None:
    """Drop this process's cached inputs and references (after a CUDA OOM, to free memory)."""
    for_group.cache_clear()


def mutated_indices(spec: KernelSpec, inputs: tuple[Any, ...]) -> dict[int, str]:
    """Argument index -> parameter name of each argument the spec says the kernel writes.

    Raises:
        CaseFailure: ``reference-error`` when ``make_inputs`` supplies no tensor for one.
    """
    params = spec.parameter_names()
    found = {}
    for name in spec.mutates:
        index = params.index(name)
        if index >= len(inputs) or not isinstance(inputs[index], torch.Tensor):
            raise CaseFailure(
                Category.REFERENCE_ERROR,
                f"kernel spec {spec.name!r}: mutates names {name!r} (parameter {index}), but "
                f"make_inputs returned no tensor for it ({len(inputs)} arguments)",
            )
        found[index] = name
    return found


def reference_outputs(spec: KernelSpec, inputs: tuple[Any, ...], mutated: dict[int, str]) -> Expected:
    """The spec's reference run on copies of ``inputs`` (upcast to ``spec.reference_dtype``, on
    ``spec.reference_device`` when set), never the inputs themselves, under ``torch.no_grad``:
    an in-place reference updates its own copies, and those of the ``mutated`` arguments are
    the expected values of the kernel's writes.

    Raises:
        ReferenceOutputError: an output is not a tensor (a forgotten ``return``).
        BaseException: whatever the reference raises.
    """

    def copy(v: Any) -> Any:
        if not isinstance(v, torch.Tensor):
            return v
        moved = v.to(spec.reference_device) if spec.reference_device else v
        up = _upcast(moved, spec.reference_dtype)
        # .to() returns the tensor itself when nothing changes (integer tensors).
        return up.clone() if up is v else up

    args = [copy(v) for v in inputs]
    with torch.no_grad():
        ref = spec.reference(*args)
    outputs = as_list(ref, bool(spec.mutates))
    for i, out in enumerate(outputs):
        if not isinstance(out, torch.Tensor):
            # A forgotten `return` is the spec's fault; comparing a kernel with it would
            # read as the kernel's (a runtime-error or a shape-mismatch).
            raise ReferenceOutputError(
                f"kernel spec {spec.name!r}: reference returned {type(out).__name__} as "
                f"output {i}, not a tensor"
            )
    return Expected(outputs, {i: args[i] for i in mutated})


def reference(spec: KernelSpec, prep: Prepared, mutated: dict[int, str]) -> Expected | BaseException:
    """:func:`reference_outputs` of the group's inputs (or what the reference raised), computed
    once per group and only when some case of it runs: a float64 4096^3 matmul costs ~10 s of
    CPU for nothing in a codegen-only case."""
    if prep.reference is None:
        try:
            prep.reference = reference_outputs(spec, prep.inputs, mutated)
        except BaseException as exc:
            if escapes(exc):
                raise
            # SystemExit and pytest's skip (pytest.importorskip in a reference) included: they
            # escaped the case before and left it without a record.
            prep.reference = exc
    return prep.reference


def check_declared_outputs(spec: KernelSpec, expected: Expected) -> None:
    """Raises CaseFailure (``reference-error``) when the reference returned another number of
    outputs than the spec's ``outputs`` declares."""
    declared = spec.returned_outputs()
    if spec.outputs and len(expected.returned) != len(declared):
        names = ", ".join(repr(o.name) for o in declared)
        raise CaseFailure(
            Category.REFERENCE_ERROR,
            f"kernel spec {spec.name!r}: the reference returned {len(expected.returned)} outputs, "
            f"outputs declares {len(declared)} ({names})",
        )


def stage_group(
    spec: KernelSpec, prep: Prepared, opts: RunOptions
) -> tuple[stage_entries.StageCache, keys.KernelKey] | None:
    """The stage cache and this group's key in it, None when caching is off or the launch
    arguments have no stable description."""
    store = stage_entries.open_stage_cache(opts.cache_dir)
    if store is None:
        return None
    if prep.group_key is False:
        prep.group_key = keys.kernel_key(spec, prep.inputs, opts.target, opts.native)
    if not isinstance(prep.group_key, keys.KernelKey):
        return None
    return store, prep.group_key


def _resolve(spec: KernelSpec, prep: Prepared, config: Any, opts: RunOptions) -> Any:
    """``codegen.resolve_config``, with Helion's default config taken from the stage cache."""
    if not isinstance(config, DefaultConfig):
        return config
    cached = stage_group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_default(cached[1])
        if hit is not None:
            return hit
    resolved = codegen.resolve_config(prep.bound, config)
    if cached is not None:
        cached[0].put_default(cached[1], resolved)
    return resolved


def _samples(spec: KernelSpec, prep: Prepared, case: CaseId, opts: RunOptions, count: int) -> list[Any]:
    """``count`` sampled configs of the case's group (sweep.sample_configs), from the stage cache
    when it has them: every xdist worker and case worker that runs a case of the group would
    otherwise bind the kernel and build Helion's config generator for it again."""
    seed = input_seed(spec, case.shape, case.dtype, opts.sweep_seed)
    cached = stage_group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_samples(cached[1], seed, count)
        if hit is not None:
            return hit
    drawn = sample_configs(prep.bound.config_spec, count, seed)
    if cached is not None:
        cached[0].put_samples(cached[1], seed, drawn)
    return drawn


def config_for(spec: KernelSpec, prep: Prepared, case: CaseId, opts: RunOptions, override: Any = None) -> Any:
    """The config ``case`` runs with: ``override`` when given (a config dict, e.g. a record's
    ``config``, becomes a ``helion.Config``; ``checker.spec.DEFAULT`` is Helion's default config
    of the bound kernel), else the spec's named config ``case.config`` (Helion's default
    resolved through the stage cache), else draw K of ``cfgK`` (``max(opts.n_configs, K + 1)``
    configs drawn per group, through the stage cache; draws are a prefix of longer draws).

    Raises:
        CaseFailure: ``invalid-config`` for a config name the spec does not declare, or a draw
            Helion could not generate.
        Exception: whatever ``bind`` raises when the kernel must be bound.
    """
    if override is not None:
        if isinstance(override, dict):
            import helion

            return helion.Config(**override)
        return _resolve(spec, prep, override, opts)
    index = sampled_index(case.config)
    if index is None:
        try:
            named = spec.named_config(case.config)
        except KeyError:
            raise CaseFailure(Category.INVALID_CONFIG, f"no named config {case.config!r}") from None
        except SpecError as exc:
            raise CaseFailure(Category.INVALID_CONFIG, f"config {case.config!r}: {exc}") from None
        return _resolve(spec, prep, named, opts)
    if prep.samples is None or len(prep.samples) <= index:
        prep.samples = _samples(spec, prep, case, opts, max(opts.n_configs, index + 1))
    config = prep.samples[index]
    if isinstance(config, BaseException):
        raise CaseFailure(
            Category.INVALID_CONFIG, f"Helion could not generate config {case.config}: {config}"
        )
    return config


def generate(spec: KernelSpec, prep: Prepared, config: Any, opts: RunOptions) -> tuple[str, bool]:
    """The generated Triton source of ``config`` and whether it came from the stage cache."""
    cached = stage_group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_code(cached[1], config)
        if hit is not None:
            return hit, True
    code = codegen.generate(prep.bound, config)
    if cached is not None:
        cached[0].put_code(cached[1], config, code)
    return code, False


def generate_named(spec: KernelSpec, case: CaseId, opts: RunOptions, seed: int) -> tuple[str, Any, bool]:
    """Generated source of a named-config ``case`` (the golden stage's code), the config it was
    generated with and whether the code came from the stage cache.

    Helion binds to uninitialized inputs with ``make_inputs``'s layout drawn from ``seed`` (as
    ``--sweep-seed``; :func:`layout_inputs`: generated code depends on shapes, strides and
    dtypes only, so a 4096x4096 golden case allocates nothing), and only when the stage cache
    misses.

    Raises:
        Exception: whatever ``make_inputs``, ``bind`` or Helion's codegen raise, and
            CaseFailure (``invalid-config``) for a config name the spec does not declare.
    """
    prep = for_group(spec, case.shape, case.dtype, seed, opts.device, False)
    config = config_for(spec, prep, case, opts)
    code, cached = generate(spec, prep, config, opts)
    return code, config, cached


def bound_of(spec: KernelSpec, case: CaseId, opts: RunOptions, seed: int) -> Any:
    """The kernel bound to ``case``'s layout inputs (see :func:`generate_named`)."""
    return for_group(spec, case.shape, case.dtype, seed, opts.device, False).bound
