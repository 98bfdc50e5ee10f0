# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/matmul.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `matmul` is copied verbatim (between `fmt: off/on`), with the
# `use_tileir_tunables` import its decorator needs; dropped the autograd Functions (they call the
# same kernel with closures as epilogues), `autotune()`, `check()`, the tritonbench wrappers and
# `main()`; added this header, the module docstring, the reference, make_inputs and SPEC. The
# kernel runs with its default (identity) epilogue.
"""Matmul (Helion example ``matmul``): ``out = x @ y`` with an fp32 ``addmm`` accumulator.

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]``, ``y`` is ``[K, N]``; output ``[M, N]`` in
the inputs' dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import helion
import helion.language as hl
import torch
from helion._compat import use_tileir_tunables
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec


# fmt: off
# %%
@helion.kernel(
    # static_shapes=True gives a performance boost for matmuls
    static_shapes=True,
    # Disable autotung over unrolling/range_num_stages
    # tl.dot is pipelined with num_stages
    # Note: range_unroll_factors and range_num_stages are not supported for tileir backend
    autotune_config_overrides={
        "range_unroll_factors": [0, 0],
        "range_num_stages": [0, 0],
    }
    if not use_tileir_tunables()
    else {},
)
def matmul(
    x: Tensor,
    y: Tensor,
    epilogue: Callable[[Tensor, tuple[Tensor, ...]], Tensor] = lambda acc, tile: acc,
) -> Tensor:
    """
    Performs matrix multiplication of x and y with an optional epilogue function.
    Args:
        x (Tensor): Left matrix of shape [m, k].
        y (Tensor): Right matrix of shape [k, n].
        epilogue (Callable, optional): Function applied to the accumulator and tile indices
            after the matmul. Defaults to identity (no change).
    Returns:
        Tensor: Resulting matrix of shape [m, n].
    """
    m, k = x.size()
    k2, n = y.size()
    assert k == k2, f"size mismatch {k} != {k2}"
    out = torch.empty(
        [m, n], dtype=torch.promote_types(x.dtype, y.dtype), device=x.device
    )
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = epilogue(acc, (tile_m, tile_n))
    return out

# fmt: on


def matmul_reference(x: Tensor, y: Tensor) -> Tensor:
    return x @ y


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    x = torch.randn((m, k), generator=generator) * std
    y = torch.randn((k, n), generator=generator) * std
    return x.to(dtype), y.to(dtype)


SPEC = KernelSpec(
    name="ex_matmul",
    kernel=matmul,
    reference=matmul_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (1024, 1024, 1024) is the example's own main() shape.
    shapes=[(1024, 1024, 1024), (1000, 777, 1500)],
    small_shapes=[(16, 32, 16), (5, 33, 17)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [M, N, K] tiles.
        "tiles16": helion.Config(block_sizes=[16, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    description="Helion example: matmul with an fp32 addmm accumulator",
)
