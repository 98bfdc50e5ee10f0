# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/matmul_layernorm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `matmul_layernorm` is copied verbatim (between `fmt: off/on`);
# dropped `matmul_layernorm_pytorch` (rewritten below), `check()` and `main()`; added this
# header, the module docstring, the reference, make_inputs and SPEC.
# ruff: noqa: E501 (a docstring line of the copied kernel is long; it is kept verbatim)
"""Matmul fused with layer norm (Helion example ``matmul_layernorm``).

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]``, ``y`` is ``[K, N]``, ``weight`` and
``bias`` are ``[N]``; ``out = layer_norm(x @ y) * weight + bias`` over N (eps 1e-5), ``[M, N]``
in the inputs' dtype. Each program holds whole rows of the fp32 product (N is specialized).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True)
def matmul_layernorm(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """
    Performs matrix multiplication followed by layer normalization.

    Args:
        x: First input tensor of shape [M, K]
        y: Second input tensor of shape [K, N]
        weight: Layer normalization weight parameter of shape [N]
        bias: Layer normalization bias parameter of shape [N]

    Returns:
        Output tensor of shape [M, N] containing the result of matrix multiplication followed by layer normalization
    """
    m, k = x.size()
    k2 = y.size(0)
    n = hl.specialize(y.size(1))
    assert k == k2, f"size mismatch {k} != {k2}"
    assert weight.size(0) == n, f"weight size mismatch {weight.size(0)} != {n}"
    assert bias.size(0) == n, f"bias size mismatch {bias.size(0)} != {n}"
    out = torch.empty(
        [m, n], dtype=torch.promote_types(x.dtype, y.dtype), device=x.device
    )
    for tile_m in hl.tile(m):
        acc = hl.zeros([tile_m, n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, :])
        eps = 1e-5
        sum_vals = acc.sum(dim=-1, keepdim=True)
        mean = sum_vals / n
        centered = acc - mean
        var = (centered * centered).sum(dim=-1, keepdim=True) / n
        normalized = centered * torch.rsqrt(var + eps)
        acc = normalized * (weight[:].to(torch.float32)) + (bias[:].to(torch.float32))
        out[tile_m, :] = acc
    return out

# fmt: on


def matmul_layernorm_reference(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    h = x @ y
    return torch.nn.functional.layer_norm(h, [h.shape[-1]], weight, bias, eps=1e-5)


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each product element sums K terms (the row statistics then sum N of them)."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep x @ y of order one.
    std = k**-0.25
    x = torch.randn((m, k), generator=generator) * std
    y = torch.randn((k, n), generator=generator) * std
    weight = torch.randn((n,), generator=generator)
    bias = torch.randn((n,), generator=generator)
    return x.to(dtype), y.to(dtype), weight.to(dtype), bias.to(dtype)


SPEC = KernelSpec(
    name="ex_matmul_layernorm",
    kernel=matmul_layernorm,
    reference=matmul_layernorm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (32, 64, 200) and (128, 256, 400) are the example's own main() shapes (it notes that
    # N = 64 or 128 failed for its author).
    shapes=[(32, 64, 200), (128, 256, 400)],
    small_shapes=[(8, 32, 48), (5, 33, 200)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [M tile, K tile].
        "tiles16": helion.Config(block_sizes=[16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    description="Helion example: matmul followed by layer norm over N, fused",
)
