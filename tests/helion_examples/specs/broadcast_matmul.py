# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/broadcast_matmul.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `broadcast_matmul` is copied verbatim (between `fmt: off/on`);
# dropped `check()` and `main()`; added this header, the module docstring, the reference,
# make_inputs and SPEC.
"""Broadcast matmul (Helion example ``broadcast_matmul``): ``out[b] = x[b] @ w``.

Shape convention: ``(B, M, K, N)``: ``x`` is ``[B, M, K]``, ``w`` is ``[K, N]`` (no batch dim);
the kernel flattens ``x`` to ``[B * M, K]``; fp32 accumulation, output in the inputs' dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True)
def broadcast_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """
    Batch matrix multiplication with broadcasting.

    Args:
        x: Input tensor of shape [B, M, K]
        w: Weight tensor of shape [K, N] (no batch dimension)

    Returns:
        Output tensor of shape [B, M, N]
    """
    b, m, k = x.size()
    k2, n = w.size()
    assert k == k2
    # Flatten [B, M, K] -> [B*M, K] to use standard 2D matmul
    x_2d = x.reshape([b * m, k])
    out_2d = torch.empty(
        [b * m, n], device=x.device, dtype=torch.promote_types(x.dtype, w.dtype)
    )
    for tile_bm, tile_n in hl.tile([b * m, n]):
        acc = hl.zeros([tile_bm, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x_2d[tile_bm, tile_k], w[tile_k, tile_n])
        out_2d[tile_bm, tile_n] = acc
    return out_2d.view(b, m, n)
# fmt: on


def broadcast_matmul_reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.matmul(x, w)


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    b, m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    x = torch.randn((b, m, k), generator=generator) * std
    w = torch.randn((k, n), generator=generator) * std
    return x.to(dtype), w.to(dtype)


SPEC = KernelSpec(
    name="ex_broadcast_matmul",
    kernel=broadcast_matmul,
    reference=broadcast_matmul_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16, 512, 768, 1024) is the example's own shape.
    shapes=[(16, 512, 768, 1024), (3, 333, 777, 1500)],
    small_shapes=[(2, 8, 32, 16), (3, 5, 33, 17)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [B*M, N, K] tiles.
        "tiles": helion.Config(block_sizes=[16, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: [B, M, K] @ [K, N] through a flattened 2-D matmul",
)
