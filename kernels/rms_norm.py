"""RMS norm: ``out = x * rsqrt(mean(x**2, dim=-1) + eps) * weight`` over the last dim.

Shape convention: ``(M, N)`` is the shape of ``x``; ``weight`` has shape ``(N,)`` and ``eps`` is
a Python float (1e-5 from ``make_inputs``). Statistics are computed in fp32; the output has the
input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    m = x.size(0)
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        vals = x[rows, :].to(torch.float32)
        mean_sq = torch.mean(vals * vals, dim=-1, keepdim=True)
        inv_rms = torch.rsqrt(mean_sq + eps)
        scaled = vals * inv_rms * weight[None, :].to(torch.float32)
        out[rows, :] = scaled.to(out.dtype)
    return out


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: the mean of squares sums N terms per row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    m, n = shape
    x = torch.randn((m, n), generator=generator, dtype=torch.float32)
    weight = 1.0 + 0.5 * torch.randn((n,), generator=generator, dtype=torch.float32)
    return x.to(dtype), weight.to(dtype), 1e-5


SPEC = KernelSpec(
    name="rms_norm",
    kernel=rms_norm,
    reference=rms_norm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    shapes=[(2048, 4096), (1000, 1023)],
    small_shapes=[(33, 128), (5, 70)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One row per program with the whole row resident, 8 warps.
        "one_row": helion.Config(block_sizes=[1], num_warps=8),
        # Four rows per program, both passes looped in 64-column chunks.
        "looped": helion.Config(block_sizes=[4], reduction_loops=[64], num_warps=4),
    },
    description="RMS norm over the last dim with a per-column weight",
)
