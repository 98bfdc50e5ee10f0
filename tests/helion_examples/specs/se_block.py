# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/se_block.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `se_block_fwd` is copied verbatim (between `fmt: off/on`); dropped
# the backward kernels, the autograd Function, `check()` and `main()`; added this header, the
# module docstring, a reference of both outputs (the example's `se_block_pytorch` returns only
# `out`), make_inputs and SPEC.
"""Squeeze-and-excitation block forward (Helion example ``se_block``).

Shape convention: ``(M, N)``: ``x`` is ``[M, N]``, ``w`` is ``[N, N]``; the kernel returns
``out = 2 * x * sigmoid(x @ w)`` and ``s = sigmoid(x @ w)``, both ``[M, N]`` in ``x``'s dtype.
Whole rows of ``x`` and all of ``w`` are loaded per tile of M.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel(
    # static_shapes=True gives a performance boost for matmuls
    static_shapes=True,
)
def se_block_fwd(x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """
    Performs 2 * x * sigmoid(x @ w)
    Args:
        x: 2D tensor of shape [m, n].
        w: 2D tensor of shape [n, n].
    Returns:
        out: Resulting matrix of shape [m, n].
        s: sigmoid(x @ w) of shape [m, n].
    """
    m, n = x.size()

    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    s = torch.empty([m, n], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        x_tile = x[tile_m, :]  # [tile_m, n]
        # No tiling for n - load entire n at once since it's small
        sigmoid_result = torch.sigmoid(
            x_tile @ w[:, :]
        )  # [tile_m, n] @ [n, n] = [tile_m, n]
        s[tile_m, :] = sigmoid_result
        # Compute output: 2 * x * sigmoid, cast to input dtype
        acc = 2.0 * x_tile.to(torch.float32) * sigmoid_result
        out[tile_m, :] = acc.to(x.dtype)

    return out, s
# fmt: on


def se_block_reference(x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    s = torch.sigmoid(x @ w)
    return 2.0 * x * s, s


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: each element of x @ w sums N products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    m, n = shape
    # Standard deviation N**-0.25 on both sides keeps x @ w of order one.
    std = n**-0.25
    x = torch.randn((m, n), generator=generator) * std
    w = torch.randn((n, n), generator=generator) * std
    return x.to(dtype), w.to(dtype)


SPEC = KernelSpec(
    name="ex_se_block",
    kernel=se_block_fwd,
    reference=se_block_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (1024, 1024) is the example's own shape.
    shapes=[(1024, 1024), (4096, 256)],
    small_shapes=[(16, 32), (5, 48)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # 16 rows of x per program against the whole w.
        "rows16": helion.Config(block_sizes=[16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    tolerances={
        torch.float16: Tolerance(
            3e-3,
            5e-5,
            reason="x @ w is rounded to fp16 before the sigmoid and the sigmoid is rounded to fp16 "
            "(s is stored in x's dtype and reused for out), then out is rounded again: about 3.5 "
            "fp16 unit roundoffs on out; measured 1.2e-3 relative under the interpreter",
        ),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: 2 * x * sigmoid(x @ w), also returning the sigmoid",
)
