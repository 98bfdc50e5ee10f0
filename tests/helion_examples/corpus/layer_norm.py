# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/layer_norm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `layer_norm_fwd` and `layer_norm_bwd` are copied verbatim
# (between `fmt: off/on`); dropped the autograd Function, the tritonbench wrapper and `main()`;
# the references (torch's layer_norm and its autograd backward) and make_inputs (the example's
# `main()` inputs: x = -2.3 + 0.5 * randn, weight and bias randn, eps 1e-4) are written here;
# added this header, the module docstring and the SPECS.
"""Layer norm forward and backward (Helion example ``layer_norm``).

Shape convention: ``(M, N)`` is the shape of ``x``; ``weight`` and ``bias`` are ``[N]`` in ``x``'s
dtype. ``layer_norm_fwd`` returns ``(y [M, N] in x's dtype, mean [M] fp32, rstd [M] fp32)``,
normalizing each row in fp32. ``layer_norm_bwd`` takes ``(grad_out, x, mean, rstd, weight)`` and
returns ``(grad_x [M, N], grad_weight [N], grad_bias [N])`` in the swept dtype: the weight and bias
gradients sum over the M rows (per-program fp32 partial sums, added on the host).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel
def layer_norm_fwd(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Performs 1D layer normalization on the input tensor using Helion.
    Args:
        x (torch.Tensor): Input tensor of shape [batch_size, dim], expected to be FP16.
        normalized_shape (list[int]): List containing the dimension to normalize over (should be length 1).
        weight (torch.Tensor): Learnable scale parameter of shape [dim].
        bias (torch.Tensor | None): Optional learnable bias parameter of shape [dim].
        eps (float, optional): Small value added to variance for numerical stability. Default is 1e-5.
    Returns:
        tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            - The layer-normalized output tensor of shape [batch_size, dim], in FP16.
            - Mean tensor of shape [batch_size], in FP32.
            - Reciprocal standard deviation tensor of shape [batch_size], in FP32.
    """
    m, n = x.size()
    assert weight.size(0) == n, f"weight size mismatch {weight.size(0)} != {n}"
    if bias is not None:
        assert bias.size(0) == n, f"bias size mismatch {bias.size(0)} != {n}"
    assert len(normalized_shape) == 1, (
        "Helion layer norm only supports 1D layer norm currently"
    )
    assert normalized_shape[0] == n, (
        f"normalized shape mismatch {normalized_shape[0]} != {n}"
    )
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    mean = torch.empty([m], dtype=torch.float32, device=x.device)
    rstd = torch.empty([m], dtype=torch.float32, device=x.device)

    for tile_m in hl.tile(m):
        acc = x[tile_m, :].to(torch.float32)
        # Compute mean
        mean_val = torch.sum(acc, dim=-1) / n
        # Compute variance
        centered = acc - mean_val[:, None]
        var_val = torch.sum(centered * centered, dim=-1) / n
        # Compute reciprocal standard deviation
        rstd_val = torch.rsqrt(var_val + eps)
        # Normalize
        normalized = centered * rstd_val[:, None]
        # Apply affine transformation
        if bias is not None:
            acc = normalized * (weight[:].to(torch.float32)) + (
                bias[:].to(torch.float32)
            )
        else:
            acc = normalized * (weight[:].to(torch.float32))
        out[tile_m, :] = acc.to(x.dtype)
        mean[tile_m] = mean_val
        rstd[tile_m] = rstd_val
    return out, mean, rstd


# %%
@helion.kernel
def layer_norm_bwd(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    mean: torch.Tensor,
    rstd: torch.Tensor,
    weight: torch.Tensor,
    compute_bias_grad: hl.constexpr = True,  # type: ignore[valid-type]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """
    Compute gradients for weight (dW) and optionally bias (dB) parameters.

    This kernel performs reduction across the batch dimension (M) to accumulate
    gradients for each feature dimension's weight and bias parameters.

    Args:
        grad_out: Gradient w.r.t layer norm output [M, N]
        x: Original input tensor [M, N]
        mean: Per-sample mean computed in forward pass [M]
        rstd: Per-sample reciprocal standard deviation from forward pass [M]
        weight: Weight parameter (used only for dtype/device info) [N]
        compute_bias_grad: Whether to compute bias gradient (default: True)

    Returns:
        (grad_x, grad_weight, grad_bias): Gradients for input, weight, and bias (if computed)
            grad_bias is None if compute_bias_grad is False
    """

    m_block = hl.register_block_size(x.size(0))
    n = hl.specialize(x.size(1))

    grad_x = torch.empty_like(x)
    num_blocks = (x.size(0) + m_block - 1) // m_block
    grad_weight_blocks = x.new_empty([num_blocks, n], dtype=torch.float32)
    grad_bias_blocks = x.new_empty([num_blocks, n], dtype=torch.float32)

    for mb_cta in hl.tile(x.size(0), block_size=m_block):
        grad_w_acc = weight.new_zeros(n, dtype=torch.float32)
        if compute_bias_grad:
            grad_b_acc = weight.new_zeros(n, dtype=torch.float32)
        weight_cta = weight[None, :].to(torch.float32)
        for mb in hl.tile(mb_cta.begin, mb_cta.end):
            x_mb = x[mb, :].to(torch.float32)
            dy_mb = grad_out[mb, :].to(torch.float32)
            mean_mb = mean[mb].to(torch.float32)
            rstd_mb = rstd[mb].to(torch.float32)

            x_hat = (x_mb - mean_mb[:, None]) * rstd_mb[:, None]

            grad_w_acc += torch.sum(dy_mb * x_hat, dim=0)
            if compute_bias_grad:
                # pyrefly: ignore [unbound-name]
                grad_b_acc += torch.sum(dy_mb, dim=0)

            wdy = weight_cta * dy_mb
            c1 = torch.sum(x_hat * wdy, dim=-1) / n
            c2 = torch.sum(wdy, dim=-1) / n
            dx = (wdy - (x_hat * c1[:, None] + c2[:, None])) * rstd_mb[:, None]
            grad_x[mb, :] = dx.to(x.dtype)

        grad_weight_blocks[mb_cta.id, :] = grad_w_acc
        if compute_bias_grad:
            grad_bias_blocks[mb_cta.id, :] = grad_b_acc  # type: ignore[index]

    grad_weight = grad_weight_blocks.sum(0).to(weight.dtype)
    if compute_bias_grad:
        grad_bias = grad_bias_blocks.sum(0).to(weight.dtype)
        return grad_x, grad_weight, grad_bias
    return grad_x, grad_weight, None

# fmt: on

#: The example's main() uses eps = 1e-4 for both passes.
EPS = 1e-4


def layer_norm_reference(
    x: torch.Tensor, normalized_shape: list[int], weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """torch's layer_norm, plus the row mean and 1/sqrt(biased variance + eps) the kernel saves."""
    mean = x.mean(dim=-1)
    rstd = torch.rsqrt(x.var(dim=-1, unbiased=False) + eps)
    y = torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)
    return y, mean, rstd


def layer_norm_bwd_reference(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    mean: torch.Tensor,
    rstd: torch.Tensor,
    weight: torch.Tensor,
    compute_bias_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Autograd of torch's layer_norm (the example's check); mean and rstd are recomputed from x."""
    # The checker calls references under no_grad.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        w = weight.detach().requires_grad_(True)
        b = torch.zeros_like(weight, requires_grad=True)
        y = torch.nn.functional.layer_norm(x, [x.shape[1]], w, b, EPS)
        grad_x, grad_w, grad_b = torch.autograd.grad(y, (x, w, b), grad_out)
    return grad_x, grad_w, grad_b


def _x_weight_bias(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m, n = shape
    x = -2.3 + 0.5 * torch.randn((m, n), generator=generator)
    weight = torch.randn(n, generator=generator)
    bias = torch.randn(n, generator=generator)
    return x.to(dtype), weight.to(dtype), bias.to(dtype)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, list[int], torch.Tensor, torch.Tensor, float]:
    x, weight, bias = _x_weight_bias(shape, dtype, generator)
    return x, [shape[1]], weight, bias, EPS


def make_bwd_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    x, weight, _ = _x_weight_bias(shape, dtype, generator)
    grad_out = torch.randn(shape, generator=generator).to(dtype)
    # The forward's saved statistics, in fp32 as layer_norm_fwd returns them.
    x32 = x.float()
    mean = x32.mean(dim=-1)
    rstd = torch.rsqrt(x32.var(dim=-1, unbiased=False) + EPS)
    return grad_out, x, mean, rstd, weight, True


def _row_length(shape: tuple[int, ...]) -> int:
    """N: mean, variance and the backward's two row sums reduce over a row."""
    return shape[1]


def _column_length(shape: tuple[int, ...]) -> int:
    """M: grad_weight and grad_bias sum over the rows."""
    return shape[0]


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (4096, 10240) is the example's main() shape; (1000, 3001) has a row that is no power of two.
_SHAPES = [(4096, 10240), (1000, 3001)]
_SMALL = [(16, 64), (5, 100)]

SPECS = [
    KernelSpec(
        name="ex_layer_norm",
        kernel=layer_norm_fwd,
        reference=layer_norm_reference,
        make_inputs=make_inputs,
        reduction_length=_row_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # block_sizes = [rows per program]; the whole row is one tile.
            "rows4": helion.Config(block_sizes=[4], num_warps=4),
        },
        outputs=[
            Output("y"),
            Output("mean", dtype=torch.float32),
            Output("rstd", dtype=torch.float32),
        ],
        description="Helion example: layer norm forward (y, mean, rstd)",
    ),
    KernelSpec(
        name="ex_layer_norm_bwd",
        kernel=layer_norm_bwd,
        reference=layer_norm_bwd_reference,
        make_inputs=make_bwd_inputs,
        reduction_length=_row_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # block_sizes = [rows per program (m_block), rows per inner step]: each program
            # accumulates its weight/bias partial sums over several inner steps.
            "m8_inner2": helion.Config(block_sizes=[8, 2], num_warps=4),
        },
        outputs=[
            Output("grad_x"),
            Output("grad_weight", reduction_length=_column_length),
            Output("grad_bias", reduction_length=_column_length),
        ],
        description="Helion example: layer norm backward (grad_x, grad_weight, grad_bias)",
    ),
]
