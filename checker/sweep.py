"""Case expansion: kernel x shape x dtype x config, with configs sampled from Helion's space.

Sampled configs are drawn with Helion's own ``ConfigGeneration.random_config`` from the bound
kernel's ``config_spec``, under Python's ``random`` seeded from (sweep seed, kernel, shape,
dtype). Config ``cfgK`` is the K-th draw, so it does not depend on how many are drawn: the
same ``--sweep-seed`` names the same configs on every machine with the same Helion version
and device type.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

import torch

from checker.choices import ShapeSet
from checker.model import CaseId
from checker.spec import DTYPE_NAMES, KernelSpec


def shapes_for(spec: KernelSpec, shape_set: str) -> list[tuple[int, ...]]:
    """The spec's shapes in ``shape_set`` (a :class:`~checker.choices.ShapeSet`: ``small``,
    ``full`` or ``all``, small first).

    Raises:
        ValueError: unknown ``shape_set``.
    """
    try:
        chosen = ShapeSet(shape_set)
    except ValueError:
        raise ValueError(
            f"unknown shape set {shape_set!r}; choose from {', '.join(s.value for s in ShapeSet)}"
        ) from None
    if chosen is ShapeSet.ALL:
        return spec.all_shapes
    if chosen is ShapeSet.SMALL:
        return [tuple(s) for s in spec.small_shapes]
    return [tuple(s) for s in spec.shapes if not spec.is_small(tuple(s))]


def sampled_name(index: int) -> str:
    return f"cfg{index}"


def sampled_index(config_name: str) -> int | None:
    """K for ``cfgK``, None for a named config."""
    if config_name.startswith("cfg") and config_name[3:].isdigit():
        return int(config_name[3:])
    return None


def expand(spec: KernelSpec, n_sampled: int, shape_set: str = "all", sweep_seed: int = 0) -> Iterator[CaseId]:
    """Every case of ``spec``: shapes x dtypes x (named configs + ``n_sampled`` sampled ones).

    Sampled configs are ``cfg0``... (drawn at run time), or for a spec that draws its own
    (``KernelSpec.drawn_configs``: a plain Triton kernel's autotune list) the names it draws
    under the group's seed (``derived_seed(sweep_seed, ...)``).
    """
    sampled = n_sampled if spec.sample_configs else 0
    for shape in shapes_for(spec, shape_set):
        for dtype in spec.dtypes:
            name = DTYPE_NAMES[dtype]
            drawn = spec.drawn_configs(sampled, derived_seed(sweep_seed, spec.name, tuple(shape), name))
            extra = drawn if drawn is not None else [sampled_name(i) for i in range(sampled)]
            for cname in [*spec.configs, *extra]:
                yield CaseId(spec.name, tuple(shape), name, cname)


def derived_seed(sweep_seed: int, kernel: str, shape: tuple[int, ...], dtype: torch.dtype | str) -> int:
    """A 63-bit seed for one (kernel, shape, dtype) under ``sweep_seed``, stable across
    processes (no ``hash()``, which is salted per process)."""
    key = f"{sweep_seed}:{kernel}:{'x'.join(map(str, shape))}:{dtype}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1


def sample_configs(config_spec: Any, count: int, seed: int) -> list[Any]:
    """``count`` configs drawn from Helion's config space, deterministic for ``seed``.

    An entry is a ``helion.Config``, or the exception Helion raised for that draw (recorded as
    ``invalid-config`` by the caller). Python's global ``random`` state is restored afterwards.
    A plain Triton kernel's space samples itself (``kcheck_sample``, checker/triton_spec.py).
    """
    own = getattr(config_spec, "kcheck_sample", None)
    if own is not None:
        return list(own(count, seed))
    from helion.autotuner.config_generation import ConfigGeneration

    state = random.getstate()
    try:
        random.seed(seed)
        try:
            generation = ConfigGeneration(config_spec)
        except Exception as exc:
            return [exc] * count
        out: list[Any] = []
        for _ in range(count):
            try:
                out.append(generation.random_config())
            except Exception as exc:
                out.append(exc)
        return out
    finally:
        random.setstate(state)
