# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/bmm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `bmm` is copied verbatim (between `fmt: off/on`); dropped the
# torch-version guard, `check()` and `main()`; added this header, the module docstring, the
# reference, make_inputs and SPEC.
"""Batched matmul (Helion example ``bmm``): ``out[b] = A[b] @ B[b]`` via ``torch.baddbmm``.

Shape convention: ``(B, M, K, N)``: ``A`` is ``[B, M, K]``, ``B`` is ``[B, K, N]``; fp32
accumulation, output in the inputs' dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True)
def bmm(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """
    Performs batch matrix multiplication.

    Args:
        A: Input tensor of shape [B, M, K]
        B: Input tensor of shape [B, K, N]

    Returns:
        Output tensor of shape [B, M, N] containing the result of batch matrix multiplication
    """
    # A: [B, M, K], B: [B, K, N], Out: [B, M, N]   # dense bmm
    b, m, k = A.size()
    b, k, n = B.size()
    out = torch.empty(
        [b, m, n], device=A.device, dtype=torch.promote_types(A.dtype, B.dtype)
    )
    for tile_b, tile_m, tile_n in hl.tile([b, m, n]):
        acc = hl.zeros([tile_b, tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.baddbmm(
                acc, A[tile_b, tile_m, tile_k], B[tile_b, tile_k, tile_n]
            )
        out[tile_b, tile_m, tile_n] = acc
    return out
# fmt: on


def bmm_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.bmm(a, b)


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    b, m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    a = torch.randn((b, m, k), generator=generator) * std
    bb = torch.randn((b, k, n), generator=generator) * std
    return a.to(dtype), bb.to(dtype)


SPEC = KernelSpec(
    name="ex_bmm",
    kernel=bmm,
    reference=bmm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16, 512, 768, 1024) is the example's own shape.
    shapes=[(16, 512, 768, 1024), (3, 1000, 777, 1500)],
    small_shapes=[(2, 16, 32, 16), (3, 5, 33, 17)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [batch, M, N, K] tiles.
        "tiles": helion.Config(block_sizes=[1, 16, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: batched matmul with an fp32 baddbmm accumulator",
)
