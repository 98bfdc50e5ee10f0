# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/swiglu.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `_swiglu_fwd` and `swiglu_bwd` are copied verbatim
# (between `fmt: off/on`); dropped `_swiglu_fwd_pallas` and the backend switch (TPU only), the
# autograd Function, the MLP modules, the tritonbench wrapper, the checks and `main()`; added this
# header, the module docstring, the references, make_inputs and the SPECS.
"""SwiGLU forward and backward (Helion example ``swiglu``).

Shape convention: ``(B, T, H)``: every tensor is ``[B, T, H]`` in the swept dtype, processed
flat. Forward: ``out = silu(a).to(b.dtype) * b`` (silu in fp32, rounded to the dtype before the
product). Backward of ``silu(x1) * x2`` for ``gout``: ``dx1 = gout * x2 * silu'(x1)``,
``dx2 = gout * silu(x1)``, computed in fp32.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def _swiglu_fwd(a: Tensor, b: Tensor) -> Tensor:
    """
    Performs SwiGLU operation: SiLU(a) * b where SiLU is the Swish activation.

    SiLU(a) = a * sigmoid(a) = a / (1 + exp(-a))
    SwiGLU(a, b) = SiLU(a) * b

    Args:
        a (Tensor): Input tensor for SiLU activation of any shape.
        b (Tensor): Input tensor for multiplication, must have same shape as a.

    Returns:
        Tensor: Result of SwiGLU operation with same shape as inputs.
    """
    # Ensure tensors have the same shape
    assert a.shape == b.shape, (
        f"Input tensors must have same shape, got {a.shape} != {b.shape}"
    )

    # Create output tensor
    out = torch.empty_like(a, dtype=torch.promote_types(a.dtype, b.dtype))

    # Get the total number of elements and process in tiles
    total_elements = a.numel()

    # Flatten tensors for easier processing
    a_flat = a.view(-1)
    b_flat = b.view(-1)
    out_flat = out.view(-1)

    # Process elements in tiles
    for tile_idx in hl.tile(total_elements):
        # Load input values and convert to float32 for computation
        a_vals = a_flat[tile_idx].to(torch.float32)
        b_vals = b_flat[tile_idx]

        # SiLU computation: x * sigmoid(x)
        sigmoid_a = torch.sigmoid(a_vals)
        silu_a = a_vals * sigmoid_a

        # SwiGLU: SiLU(a) * b
        result = silu_a.to(b_vals.dtype) * b_vals

        # Store result
        out_flat[tile_idx] = result

    return out


@helion.kernel()
def swiglu_bwd(gout: Tensor, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """
    Implement the backward formula for swiglu.
    """
    dx1 = torch.empty_like(x1)
    dx2 = torch.empty_like(x2)

    gout_flat = gout.view(-1)
    x1_flat = x1.view(-1)
    x2_flat = x2.view(-1)
    dx1_flat = dx1.view(-1)
    dx2_flat = dx2.view(-1)

    for tile in hl.tile(x1.numel()):
        x1_vals = x1_flat[tile].to(torch.float32)
        gout_vals = gout_flat[tile].to(torch.float32)

        # compute dx2
        dx2_vals = x1_vals * torch.sigmoid(x1_vals) * gout_vals
        dx2_flat[tile] = dx2_vals.to(x2.dtype)

        # compute dx1
        x2_vals = x2_flat[tile].to(torch.float32)
        x1_exp = torch.exp(x1_vals)
        x1_exp_plus1 = x1_exp + 1
        dextra = x1_exp / x1_exp_plus1 + x1_vals * x1_exp / x1_exp_plus1 / x1_exp_plus1
        dx1_vals = gout_vals * x2_vals * dextra
        dx1_flat[tile] = dx1_vals.to(x1.dtype)

    return dx1, dx2
# fmt: on


def swiglu_reference(a: Tensor, b: Tensor) -> Tensor:
    return torch.nn.functional.silu(a) * b


def swiglu_bwd_reference(gout: Tensor, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    sig = torch.sigmoid(x1)
    # silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))
    dx1 = gout * x2 * sig * (1 + x1 * (1 - sig))
    dx2 = gout * x1 * sig
    return dx1, dx2


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    a = torch.randn(shape, generator=generator)
    b = torch.randn(shape, generator=generator)
    return a.to(dtype), b.to(dtype)


def make_bwd_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    gout, x1, x2 = (torch.randn(shape, generator=generator) for _ in range(3))
    return gout.to(dtype), x1.to(dtype), x2.to(dtype)


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (4, 8192, 4096) and (8, 8192, 4096) are the example's own kernel-check shapes.
_SHAPES = [(4, 8192, 4096), (8, 8192, 4096)]
_SMALL = [(2, 8, 64), (3, 5, 37)]
_CONFIGS = {
    "default": DEFAULT,
    # 1-D tiles of 256 over the flattened tensor (a partial last tile on (3, 5, 37)).
    "flat256": helion.Config(block_sizes=[256], num_warps=4),
}

SPECS = [
    KernelSpec(
        name="ex_swiglu",
        kernel=_swiglu_fwd,
        reference=swiglu_reference,
        make_inputs=make_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        description="Helion example: SwiGLU forward, silu(a) * b",
    ),
    KernelSpec(
        name="ex_swiglu_bwd",
        kernel=swiglu_bwd,
        reference=swiglu_bwd_reference,
        make_inputs=make_bwd_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        description="Helion example: SwiGLU backward, dx1 and dx2",
    ),
]
