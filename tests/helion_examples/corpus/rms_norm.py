# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/rms_norm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `rms_norm_fwd` and `rms_norm_bwd` are copied verbatim
# (between `fmt: off/on`); dropped the autograd Function, the tritonbench wrapper, the reference
# `rms_norm_pytorch` (rewritten below), `check()` and `main()`; added this header, the module
# docstring, the references, make_inputs and the SPECS.
"""RMS normalization forward and backward (Helion example ``rms_norm``).

Shape convention: ``(M, N)``: ``x`` is ``[M, N]``, ``weight`` is ``[N]``, both in the swept
dtype. The forward returns ``out = x * rsqrt(mean(x**2) + eps) * weight`` (``[M, N]``, x's
dtype) and the fp32 inverse RMS ``[M, 1]``; the backward takes ``grad_out``, ``x``, ``weight``
and that inverse RMS and returns ``grad_x`` (``[M, N]``) and ``grad_weight`` (``[N]``, weight's
dtype, summed over M in per-tile fp32 partials).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel
def rms_norm_fwd(
    x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Performs Root Mean Square (RMS) normalization on the input tensor.

    RMS normalization normalizes by the root mean square of the elements:
    output = x / sqrt(mean(x^2) + eps) * weight

    Args:
        x: Input tensor of shape [M, N]
        weight: Scale parameter of shape [N]
        eps: Small constant for numerical stability

    Returns:
        Output tensor of shape [M, N] with RMS normalization applied
        RMS tensor of shape [M, 1] with RMS values for each element
    """
    m, n = x.size()
    assert weight.size(0) == n, f"weight size mismatch {weight.size(0)} != {n}"

    out = torch.empty_like(x)
    inv_rms = torch.empty([m], dtype=torch.float32, device=x.device)

    for tile_m in hl.tile(m):
        x_tile = x[tile_m, :].to(torch.float32)

        # Compute inverse RMS: 1/sqrt(mean(x^2) + eps)
        x_squared = x_tile * x_tile
        mean_x_squared = torch.mean(x_squared, dim=-1)
        inv_rms_tile = torch.rsqrt(mean_x_squared + eps)

        # Apply normalization and weight
        normalized = x_tile * inv_rms_tile[:, None]
        out[tile_m, :] = (normalized * weight[:].to(torch.float32)).to(out.dtype)
        inv_rms[tile_m] = inv_rms_tile

    return out, inv_rms.reshape(-1, 1)


@helion.kernel(ignore_warnings=[helion.exc.TensorOperationInWrapper])
def rms_norm_bwd(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    rsqrt: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Compute gradient for input tensor (dX) and weights (dW).

    This kernel computes per-sample gradients by performing reductions across
    the feature dimension (N) for each sample in the batch and across the batches
    in a split fashion.

    Args:
        grad_out: Gradient w.r.t rms norm output [M, N]
        x: Original input tensor [M, N]
        weight: Weight parameter [N]
        inv_rms: Inverse RMS tensor [M, 1]

    Returns:
        grad_x: Gradient w.r.t input tensor, shape [M, N]
        grad_weight: Gradient w.r.t eight tensor, shape [N]
    """
    m_block = hl.register_block_size(x.size(0))
    grad_x = torch.empty_like(x)
    grad_weight = x.new_empty(
        [(x.size(0) + m_block - 1) // m_block, *weight.shape], dtype=torch.float32
    )
    weight_shape = hl.specialize(weight.size(0))
    for mb_cta in hl.tile(x.size(0), block_size=m_block):
        grad_w_m = weight.new_zeros(weight_shape, dtype=torch.float32)
        for mb in hl.tile(mb_cta.begin, mb_cta.end):
            x_m = x[mb, :].to(torch.float32)
            do_m = grad_out[mb, :].to(torch.float32)
            rsqrt_m = rsqrt[mb, :].to(torch.float32)
            grad_w_m += (x_m * do_m * rsqrt_m).sum(0)
            w_m = weight[None, :].to(torch.float32)
            grad_x[mb, :] = (
                w_m * do_m * rsqrt_m
                - x_m * rsqrt_m**3 * (w_m * do_m * x_m).mean(-1)[:, None]
            ).to(x.dtype)
        grad_weight[mb_cta.id, :] = grad_w_m
    return grad_x, grad_weight.sum(0).to(weight.dtype)
# fmt: on

_EPS = 1e-5  # the kernel's default eps


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    inv_rms = (x.square().mean(-1, keepdim=True) + _EPS).rsqrt()
    return x * inv_rms * weight, inv_rms


def rms_norm_bwd_reference(
    grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, inv_rms: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    # d/dx of x * r(x) * w with r = (mean(x^2) + eps)^-1/2, written with the given r, as the
    # kernel does: w*g*r - x * r^3 * mean(w*g*x) over the row.
    wg = weight * grad_out
    grad_x = wg * inv_rms - x * inv_rms**3 * (wg * x).mean(-1, keepdim=True)
    grad_weight = (x * grad_out * inv_rms).sum(0)
    return grad_x, grad_weight


def row_length(shape: tuple[int, ...]) -> int:
    """N: the mean of x**2 runs over a row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = shape
    x = torch.randn((m, n), generator=generator)
    weight = torch.randn((n,), generator=generator)
    return x.to(dtype), weight.to(dtype)


def make_bwd_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    m, n = shape
    x = torch.randn((m, n), generator=generator).to(dtype)
    weight = torch.randn((n,), generator=generator).to(dtype)
    # grad_weight sums M terms of order one; 1/sqrt(M) keeps it of order one.
    grad_out = (torch.randn((m, n), generator=generator) * m**-0.5).to(dtype)
    # The forward's fp32 inverse RMS of the rounded x, as the autograd Function saves it.
    inv_rms = (x.float().square().mean(-1, keepdim=True) + _EPS).rsqrt()
    return grad_out, x, weight, inv_rms


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (2048, 4096) and (2048, 8192) are the example's own main() shapes.
_SHAPES = [(2048, 4096), (2048, 8192)]
_SMALL = [(16, 64), (5, 100)]

SPECS = [
    KernelSpec(
        name="ex_rms_norm",
        kernel=rms_norm_fwd,
        reference=rms_norm_reference,
        make_inputs=make_inputs,
        reduction_length=row_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # 4 rows per program, whole row loaded, looped over in chunks of 32.
            "rows4_loop32": helion.Config(block_sizes=[4], reduction_loops=[32], num_warps=4),
        },
        outputs=[Output("out"), Output("inv_rms", dtype=torch.float32)],
        description="Helion example: RMS norm forward, also returning the fp32 inverse RMS",
    ),
    KernelSpec(
        name="ex_rms_norm_bwd",
        kernel=rms_norm_bwd,
        reference=rms_norm_bwd_reference,
        make_inputs=make_bwd_inputs,
        reduction_length=row_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # block_sizes = [m_block (rows per program), inner row tile].
            "mblock8_rows2": helion.Config(block_sizes=[8, 2], num_warps=4),
        },
        outputs=[
            Output("grad_x"),
            Output("grad_weight", reduction_length=lambda shape: shape[0]),
        ],
        description="Helion example: RMS norm backward, grad_x and grad_weight",
    ),
]
