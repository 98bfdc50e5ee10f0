"""Which cases a spec tracks with golden files, and generating their code.

A golden case is a named config on the spec's canonical shape for one dtype
(:class:`checker.spec.GoldenTracking`). Sampled configs are never tracked: they depend on the
sweep seed and on Helion's config space, which moves between Helion releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checker.model import CaseId
from checker.spec import DTYPE_NAMES, KernelSpec

if TYPE_CHECKING:
    from checker.run_options import RunOptions

#: Seed of the inputs golden codegen binds to. Generated code depends on input shapes,
#: strides and dtypes only, so it is fixed and independent of --sweep-seed.
GOLDEN_INPUT_SEED = 0


@dataclass(frozen=True)
class GoldenCase:
    """One golden item's work.

    Attributes:
        case: the case whose code is generated.
        tracked: compare the normalized code with a golden file.
        checks: FileCheck directives the code must satisfy (None: none declared).
    """

    case: CaseId
    tracked: bool
    checks: str | None


def canonical_shape(spec: KernelSpec) -> tuple[int, ...]:
    """The shape golden cases use: ``spec.golden.shape``, else the first full shape, else the
    first small shape."""
    if spec.golden.shape is not None:
        return tuple(spec.golden.shape)
    return tuple(spec.shapes[0]) if spec.shapes else tuple(spec.small_shapes[0])


def golden_cases(spec: KernelSpec) -> list[GoldenCase]:
    """Every golden case of ``spec``: tracked configs and configs with expectations, for each
    dtype, on the canonical shape; in spec order (dtypes, then configs)."""
    tracking = spec.golden
    tracked_configs = set(spec.configs if tracking.configs is None else tracking.configs)
    tracked_dtypes = set(spec.dtypes if tracking.dtypes is None else tracking.dtypes)
    shape = canonical_shape(spec)
    out: list[GoldenCase] = []
    for dtype in spec.dtypes:
        for cname in spec.configs:
            tracked = tracking.enabled and cname in tracked_configs and dtype in tracked_dtypes
            checks = spec.expectations.get(cname)
            if tracked or checks is not None:
                out.append(GoldenCase(CaseId(spec.name, shape, DTYPE_NAMES[dtype], cname), tracked, checks))
    return out


def target_key(target: str, native: bool) -> str:
    """The golden directory name for code generated for ``target``: ``sm_90`` when generated on
    that GPU, ``cpu-sm_90`` when generated on a CPU-only machine with Helion made to see it
    (checker.targets.use_target_on_cpu)."""
    return target if native else f"cpu-{target}"


def generate(spec: KernelSpec, case: CaseId, options: RunOptions) -> tuple[str, Any, bool]:
    """Generated source of ``case`` for its golden file, the config it was generated with, and
    whether the code came from the stage cache (checker.cache.stages).

    ``options`` are the run's (device, target, cache directory). Helion binds to inputs of
    ``make_inputs``'s layout under :data:`GOLDEN_INPUT_SEED`, without their values
    (prepare.generate_named), and only when the stage cache misses. A plain Triton kernel's golden
    text is its normalized TTIR (checker/triton_ttir.py).

    Raises:
        Exception: whatever ``make_inputs``, ``bind`` or code generation raise
            (diagnostics.classify maps them to categories).
    """
    from checker import prepare, triton_ttir
    from checker.triton_spec import TritonKernel

    code, config, cached = prepare.generate_named(spec, case, options, GOLDEN_INPUT_SEED)
    if isinstance(spec.kernel, TritonKernel):
        bound = prepare.bound_of(spec, case, options, GOLDEN_INPUT_SEED)
        code = triton_ttir.golden_ttir(code, spec.kernel.name, bound.inputs)
    return code, config, cached
