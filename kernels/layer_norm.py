"""Layer norm: ``out = (x - mean) / sqrt(var + eps) * weight + bias`` over the last dim.

Shape convention: ``(M, N)`` is the shape of ``x``; ``weight`` and ``bias`` have shape ``(N,)``
and ``eps`` is a Python float (1e-5 from ``make_inputs``). The variance is the biased one (as
``torch.nn.functional.layer_norm``), computed in fp32 from the centred values; the output has
the input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def layer_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    eps: float,
) -> torch.Tensor:
    m = x.size(0)
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        vals = x[rows, :].to(torch.float32)
        mean = torch.mean(vals, dim=-1, keepdim=True)
        centred = vals - mean
        var = torch.mean(centred * centred, dim=-1, keepdim=True)
        normed = centred * torch.rsqrt(var + eps)
        w = weight[None, :].to(torch.float32)
        b = bias[None, :].to(torch.float32)
        out[rows, :] = (normed * w + b).to(out.dtype)
    return out


def layer_norm_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: mean and variance sum N terms per row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    m, n = shape
    # A non-zero mean per row so the centring matters.
    x = torch.randn((m, n), generator=generator, dtype=torch.float32) + 0.5
    weight = 1.0 + 0.5 * torch.randn((n,), generator=generator, dtype=torch.float32)
    bias = 0.5 * torch.randn((n,), generator=generator, dtype=torch.float32)
    return x.to(dtype), weight.to(dtype), bias.to(dtype), 1e-5


SPEC = KernelSpec(
    name="layer_norm",
    kernel=layer_norm,
    reference=layer_norm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    shapes=[(2048, 4096), (777, 1500)],
    small_shapes=[(16, 96), (3, 200), (1, 5)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One row per program with the whole row resident, 8 warps.
        "one_row": helion.Config(block_sizes=[1], num_warps=8),
        # Two rows per program; mean, variance and output passes looped in 64-column chunks.
        "looped": helion.Config(block_sizes=[2], reduction_loops=[64], num_warps=4),
    },
    description="layer norm over the last dim with weight and bias",
)
