# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/batch_softmax.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `batch_softmax` is copied verbatim (between `fmt: off/on`); dropped
# `check()` and `main()`; added this header, the module docstring, the reference, make_inputs
# and SPEC.
# ruff: noqa: RUF059 (the copied kernel unpacks an unused size; it is kept verbatim)
"""Batched softmax (Helion example ``batch_softmax``) over the last dim of a 3-D tensor.

Shape convention: ``(B, M, N)`` is the shape of ``x``; the softmax runs over ``N``. The kernel
computes in the input dtype (no upcast to fp32) and loads whole rows.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel(
    # Validate autotuning against eager softmax (the ground truth) rather than
    # the kernel's default config, which loads the whole last dim and so can be
    # too large to compile as the baseline before autotuning shrinks the block.
    autotune_baseline_fn=lambda x: torch.nn.functional.softmax(x, dim=-1),
)
def batch_softmax(x: torch.Tensor) -> torch.Tensor:
    """
    Batched softmax with arithmetic broadcasting.

    Args:
        x: Input tensor of shape [B, M, N]

    Returns:
        Softmax output of shape [B, M, N], normalized along the last dimension.
    """
    b, m, n = x.size()
    out = torch.empty_like(x)
    # Tile the batch dims [B, M] together; load the whole last dim per tile.
    for tile_b, tile_m in hl.tile([b, m]):
        values = x[tile_b, tile_m, :]  # [tile_b, tile_m, N]

        # Reduce over last dim -> [tile_b, tile_m]
        x_max = torch.amax(values, dim=2)

        # Broadcast x_max from [tile_b, tile_m] to [tile_b, tile_m, 1]
        # using [:, :, None], then subtract from [tile_b, tile_m, N]
        exp_vals = torch.exp(values - x_max[:, :, None])

        sum_exp = torch.sum(exp_vals, dim=2)  # [tile_b, tile_m]
        out[tile_b, tile_m, :] = exp_vals / sum_exp[:, :, None]
    return out
# fmt: on


def batch_softmax_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.softmax(x, dim=-1)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: the denominator sums N exponentials per row."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    # Logits of std 2: a spread of probabilities without overflow in fp16/bf16.
    return ((torch.randn(shape, generator=generator) * 2.0).to(dtype),)


SPEC = KernelSpec(
    name="ex_batch_softmax",
    kernel=batch_softmax,
    reference=batch_softmax_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16, 512, 1024) is the example's own shape.
    shapes=[(16, 512, 1024), (4, 1000, 3000)],
    small_shapes=[(2, 8, 64), (3, 5, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [batch tile, row tile]: 1 x 4 rows per program.
        "rows4": helion.Config(block_sizes=[1, 4], num_warps=4),
    },
    tolerances={
        torch.float16: Tolerance(
            1e-2,
            1e-4,
            reason="the example computes the whole softmax in the input dtype: exp rounded to "
            "fp16, the N exponentials summed in fp16 (tl.sum does not widen fp16), the quotient "
            "rounded again; measured under the interpreter: 5e-3 relative (10 fp16 ulps) on "
            "probabilities near 0.07, 3.4e-4 absolute at most",
        ),
        torch.bfloat16: Tolerance(
            8e-2,
            1e-3,
            reason="as fp16 (exp, sum and quotient in the input dtype), with bf16's 8x larger unit roundoff",
        ),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: softmax over the last dim of [B, M, N], tiled over B and M",
)
