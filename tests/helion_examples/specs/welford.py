# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/welford.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `welford` is copied verbatim (between `fmt: off/on`); dropped the
# helion._testing imports, `eager_layer_norm` (the reference below is the same call), `check()`
# and the benchmark `main()`; added this header, the module docstring, make_inputs and SPEC.
"""Welford layer norm (Helion example ``welford``): LayerNorm over the last dim of ``x``.

Shape convention: ``(M, N)`` is the shape of ``x``; ``weight`` and ``bias`` are ``[N]``. Note the
example's argument order: ``welford(weight, bias, x, eps)``. Mean and M2 are merged chunk by
chunk (Chan/Welford) in fp32; the output has the input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel()
def welford(
    weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, eps: float = 1e-05
) -> torch.Tensor:
    """
    Applies LayerNorm using Welford's algorithm for mean/variance.
    Args:
        weight: weight tensor of shape [N]
        bias: bias tensor of shape [N]
        x: input tensor of shape [M, N]
    Returns:
        Output tensor of shape [M, N]
    """
    m, n = x.size()

    out = torch.empty([m, n], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        acc_cnt = torch.zeros_like(x[tile_m, 0], dtype=torch.float32)
        acc_mean = torch.zeros_like(acc_cnt)
        acc_m2 = torch.zeros_like(acc_cnt)

        for tile_n in hl.tile(n):
            chunk = x[tile_m, tile_n]
            # Count of VALID columns (the divisor): use the true valid count, not the constexpr
            # tile width (over-counts last-tile padding). Cast the mask to int32 BEFORE summing —
            # a bool operand gives CuTe a saturating accumulator (-> NaN).
            Tn = (tile_n.index < n).to(torch.int32).sum()
            sum_x = torch.sum(chunk, dim=-1)
            sum_x2 = torch.sum(chunk * chunk, dim=-1)
            mean_c = sum_x / Tn
            m2_c = sum_x2 - (sum_x * sum_x) / Tn

            delta = mean_c - acc_mean
            new_cnt = acc_cnt + Tn
            new_mean = acc_mean + delta * (Tn / new_cnt)
            new_m2 = acc_m2 + m2_c + delta * delta * (acc_cnt * Tn / new_cnt)

            acc_cnt, acc_mean, acc_m2 = new_cnt, new_mean, new_m2

        rstd_tile = torch.rsqrt(acc_m2 / acc_cnt + eps)
        mean_col = acc_mean[:, None]
        rstd_col = rstd_tile[:, None]

        for tile_n in hl.tile(n):
            xi_chuck = x[tile_m, tile_n]
            w_chuck = weight[tile_n][None, :]
            b_chuck = bias[tile_n][None, :]

            y = (xi_chuck - mean_col) * rstd_col
            y = y * w_chuck + b_chuck

            out[tile_m, tile_n] = y.to(x.dtype)
    return out
# fmt: on


def welford_reference(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, [x.shape[-1]], weight=weight, bias=bias, eps=eps)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: mean and variance of each row sum N terms."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    m, n = shape
    # The example draws torch.rand (mean 0.5): a non-zero mean is what Welford is for.
    x = torch.rand((m, n), generator=generator) + 0.5 * torch.randn((m, n), generator=generator)
    weight = 1.0 + 0.5 * torch.randn((n,), generator=generator)
    bias = torch.randn((n,), generator=generator)
    return weight.to(dtype), bias.to(dtype), x.to(dtype), 1e-5


SPEC = KernelSpec(
    name="ex_welford",
    kernel=welford,
    reference=welford_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    shapes=[(8192, 1024), (4096, 1536)],
    small_shapes=[(16, 128), (5, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [rows per program, column chunk of both loops]: 4 rows, 32-wide chunks
        # (several Welford merges and a partial last chunk on (5, 100)).
        "chunked": helion.Config(block_sizes=[4, 32, 32], num_warps=4),
    },
    tolerances={
        torch.float16: Tolerance(
            1e-2,
            1e-2,
            reason="the example sums each chunk in the input dtype (torch.sum of an fp16 tile is "
            "fp16), so mean and M2 carry fp16 rounding, amplified by the cancellation in "
            "sum_x2 - sum_x**2 / Tn; a CPU emulation of that rounding needs rtol = atol = 1.8e-3 "
            "on these shapes (chunks of 16 to 2048 columns), the interpreter measured 3.6e-3",
        ),
        torch.bfloat16: Tolerance(
            6e-2,
            6e-2,
            reason="as fp16, with bf16's 8-bit mantissa: the CPU emulation of the chunk sums "
            "rounded to bf16 needs rtol = atol = 1.5e-2 on these shapes",
        ),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: LayerNorm with Welford mean/variance merged per column chunk",
)
