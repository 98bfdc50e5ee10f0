# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/geglu.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `_geglu` (the GPU forward kernel) is copied verbatim (between
# `fmt: off/on`); dropped the Pallas/TPU variant and the backend switch, `geglu_bwd`, the
# autograd Function, the MLP modules, the tritonbench wrapper, the checks and `main()`; added
# this header, the module docstring, the reference (the example's `baseline_geglu`),
# make_inputs and SPEC.
"""GEGLU (Helion example ``geglu``): ``gelu_tanh(a) * b``, elementwise over a flattened tensor.

Shape convention: ``(B, T, H)`` is the shape of both ``a`` and ``b``. The kernel computes GELU
(tanh approximation) in fp32, rounds it to ``b``'s dtype, then multiplies by ``b``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor, nn

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel()
def _geglu(a: Tensor, b: Tensor) -> Tensor:
    """
    Performs GEGLU operation: GELU(a) * b using tanh approximation for GELU.

    GELU(a) = 0.5 * a * (1 + tanh(sqrt(2/π) * (a + 0.044715 * a³)))
    GEGLU(a, b) = GELU(a) * b

    Args:
        a (Tensor): Input tensor for GELU activation of any shape.
        b (Tensor): Input tensor for multiplication, must have same shape as a.

    Returns:
        Tensor: Result of GEGLU operation with same shape as inputs.
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

        # GELU computation using tanh approximation
        # Constants for tanh approximation
        sqrt_2_over_pi = 0.7978845608028654  # sqrt(2 / π)

        # Compute a cubed
        a_cubed = a_vals * a_vals * a_vals

        # Compute tanh argument: sqrt(2/π) * (a + 0.044715 * a^3)
        tanh_arg = sqrt_2_over_pi * (a_vals + 0.044715 * a_cubed)

        # Compute tanh and GELU
        tanh_result = torch.tanh(tanh_arg)
        gelu_a = 0.5 * a_vals * (1.0 + tanh_result)

        # GEGLU: GELU(a) * b
        result = gelu_a.to(b_vals.dtype) * b_vals

        # Store result
        out_flat[tile_idx] = result

    return out
# fmt: on


def geglu_reference(a: Tensor, b: Tensor) -> Tensor:
    """The example's ``baseline_geglu`` (liger_kernel's convention)."""
    return nn.functional.gelu(a, approximate="tanh").to(b.dtype) * b


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    a = torch.randn(shape, generator=generator)
    b = torch.randn(shape, generator=generator)
    return a.to(dtype), b.to(dtype)


SPEC = KernelSpec(
    name="ex_geglu",
    kernel=_geglu,
    reference=geglu_reference,
    make_inputs=make_inputs,
    shapes=[(8, 2048, 4096), (4, 1000, 2731)],
    small_shapes=[(2, 16, 64), (3, 5, 77)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One flat tile of 256 elements per program (partial last tile on both small shapes).
        "flat256": helion.Config(block_sizes=[256], num_warps=4),
    },
    tolerances={
        torch.float16: Tolerance(
            2e-3,
            1e-5,
            reason="gelu(a) is rounded to fp16 before the product with b (the example's `.to("
            "b_vals.dtype)`), then the product is rounded again: two fp16 roundings, 2 * 2^-11",
        ),
        torch.bfloat16: Tolerance(
            1.6e-2,
            1e-5,
            reason="gelu(a) is rounded to bf16 before the product with b, then the product is "
            "rounded again: two bf16 roundings, 2 * 2^-8 = 7.8e-3, within assert_close's bf16 "
            "default of 1.6e-2 (which also covers the interpreter's truncating fp32 -> bf16 cast)",
        ),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: GEGLU, gelu_tanh(a) * b over a flattened tensor",
)
