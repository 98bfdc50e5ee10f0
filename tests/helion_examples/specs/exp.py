# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/exp.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `exp_fwd` and `exp_bwd` are copied verbatim (between
# `fmt: off/on`); dropped the autograd Function, the tritonbench wrapper, `check()` and
# `main()`; added this header, the module docstring, references, make_inputs and the SPECS.
"""Elementwise exp and its backward (Helion example ``exp``).

Shape convention: ``(M, N)`` is the shape of every tensor. ``ex_exp`` checks
``exp_fwd(x) = exp(x)``; ``ex_exp_bwd`` checks ``exp_bwd(dy, exp_x) = dy * exp_x``. Both compute in
the input dtype (no upcast in the kernel).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def exp_fwd(x: torch.Tensor) -> torch.Tensor:
    """
    Computes the exponential of all elements in the input tensor.

    Args:
        x: Input tensor

    Returns:
        Output tensor with the exponential of each element in the input
    """
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = torch.exp(x[tile])
    return out


# %%
@helion.kernel()
def exp_bwd(dy: torch.Tensor, exp_x: torch.Tensor) -> torch.Tensor:
    """
    Computes the gradient of the exponential function with respect to the input tensor.

    Args:
        dy: Gradient of the output tensor
        exp_x: Saved activation from the forward pass

    Returns:
        Gradient of the input tensor
    """
    dx = torch.empty_like(exp_x)
    for tile in hl.tile(exp_x.size()):
        dx[tile] = dy[tile] * exp_x[tile]
    return dx
# fmt: on


def exp_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x)


def exp_bwd_reference(dy: torch.Tensor, exp_x: torch.Tensor) -> torch.Tensor:
    return dy * exp_x


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    return (torch.randn(shape, generator=generator).to(dtype),)


def make_bwd_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    dy = torch.randn(shape, generator=generator)
    exp_x = torch.exp(torch.randn(shape, generator=generator))
    return dy.to(dtype), exp_x.to(dtype)


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
_CONFIGS = {
    "default": DEFAULT,
    # 2-D tiles of 8 x 64, 2 warps (partial tiles in both dimensions on (5, 100)).
    "tile_8x64": helion.Config(block_sizes=[8, 64], num_warps=2),
}

SPECS = [
    KernelSpec(
        name="ex_exp",
        kernel=exp_fwd,
        reference=exp_reference,
        make_inputs=make_inputs,
        shapes=[(10240, 10240), (1000, 3001)],
        small_shapes=[(16, 64), (5, 100)],
        dtypes=_DTYPES,
        configs=_CONFIGS,
        # Third-party kernels: no golden files of their generated code are kept.
        description="Helion example: elementwise exp",
    ),
    KernelSpec(
        name="ex_exp_bwd",
        kernel=exp_bwd,
        reference=exp_bwd_reference,
        make_inputs=make_bwd_inputs,
        shapes=[(10240, 10240)],
        small_shapes=[(16, 64), (5, 100)],
        dtypes=_DTYPES,
        configs=_CONFIGS,
        description="Helion example: exp backward, dy * exp(x)",
    ),
]
