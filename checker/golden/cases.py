"""Which cases a spec tracks with golden files, and generating their code.

A golden case is a named config on the spec's canonical shape for one dtype
(:class:`checker.spec.GoldenTracking`). Sampled configs are never tracked: they depend on the
sweep seed and on Helion's config space, which moves between Helion releases.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from checker import codegen
from checker.model import CaseId
from checker.spec import DTYPE_NAMES, DTYPES_BY_NAME, KernelSpec
from checker.sweep import derived_seed

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


@functools.lru_cache(maxsize=4)
def _bound(spec: KernelSpec, shape: tuple[int, ...], dtype_name: str, device: str) -> Any:
    dtype = DTYPES_BY_NAME[dtype_name]
    gen = torch.Generator().manual_seed(derived_seed(GOLDEN_INPUT_SEED, spec.name, shape, dtype_name))
    args = tuple(
        v.to(device) if isinstance(v, torch.Tensor) else v for v in spec.make_inputs(shape, dtype, gen)
    )
    return spec.kernel.bind(args)


def generate(spec: KernelSpec, case: CaseId, device: str) -> tuple[str, Any]:
    """Generated Triton source of ``case`` and the ``helion.Config`` it was generated with.

    ``device`` is ``cpu`` or ``cuda``: where the inputs Helion binds to live.

    Raises:
        KeyError: ``case.config`` is not a named config of ``spec``.
        Exception: whatever ``make_inputs``, ``bind`` or Helion's codegen raise
            (diagnostics.classify maps them to categories).
    """
    bound = _bound(spec, case.shape, case.dtype, device)
    config = codegen.resolve_config(bound, spec.configs[case.config])
    code = codegen.generate(bound, config)
    # A plain Triton kernel's golden text is its normalized TTIR (checker/triton_codegen.py).
    golden = getattr(bound, "golden_code", None)
    return (golden(code) if golden is not None else code), config
