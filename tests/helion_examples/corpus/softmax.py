# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/softmax.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `softmax`, `softmax_decomposed`, `softmax_two_pass` and
# `softmax_bwd` are copied verbatim (between `fmt: off/on`); dropped the autograd Function, the
# tritonbench wrappers, `check()` and `main()`; added this header, the module docstring, the
# references, make_inputs and the SPECS.
"""Row softmax forward (three ways) and backward (Helion example ``softmax``).

Shape convention: ``(M, N)``: ``x`` is ``[M, N]``, softmax over the last dim, output in x's
dtype. ``softmax`` calls ``torch.nn.functional.softmax`` on a whole row, ``softmax_decomposed``
spells out max/exp/sum, ``softmax_two_pass`` is the online (running max and denominator) version
over tiles of N. ``softmax_bwd`` takes ``grad_output`` and the forward's output ``y`` and returns
``y * (grad_output - sum(y * grad_output))``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def softmax(x: torch.Tensor) -> torch.Tensor:
    """
    Simple Helion kernel wrapping PyTorch's softmax function.
    Args:
        x (torch.Tensor): Input tensor of shape [n, m].
    Returns:
        torch.Tensor: Softmax output tensor of the same shape.
    """
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        out[tile_n, :] = torch.nn.functional.softmax(x[tile_n, :], dim=1)
    return out


# %%
@helion.kernel()
def softmax_decomposed(x: torch.Tensor) -> torch.Tensor:
    """
    Helion kernel implementing softmax by decomposing into max, exp, and normalization steps.
    This avoids using PyTorch's built-in softmax decomposition.
    Args:
        x (torch.Tensor): Input tensor of shape [n, m].
    Returns:
        torch.Tensor: Softmax output tensor of the same shape.
    """
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        values = x[tile_n, :]
        amax = torch.amax(values, dim=1, keepdim=True)
        exp = torch.exp(values - amax)
        sum_exp = torch.sum(exp, dim=1, keepdim=True)
        out[tile_n, :] = exp / sum_exp
    return out


# %%
@helion.kernel()
def softmax_two_pass(x: torch.Tensor) -> torch.Tensor:
    """
    Numerically optimized Helion kernel performing softmax in two passes.
    This version uses fewer passes but is less numerically stable.
    Args:
        x (torch.Tensor): Input tensor of shape [m, n].
    Returns:
        torch.Tensor: Softmax output tensor of the same shape.
    """
    m, n = x.size()
    out = torch.empty_like(x)
    block_size_m = hl.register_block_size(m)
    block_size_n = hl.register_block_size(n)
    for tile_m in hl.tile(m, block_size=block_size_m):
        mi = hl.full([tile_m], float("-inf"), dtype=torch.float32)
        di = hl.zeros([tile_m], dtype=torch.float32)
        for tile_n in hl.tile(n, block_size=block_size_n):
            values = x[tile_m, tile_n]
            local_amax = torch.amax(values, dim=1)
            mi_next = torch.maximum(mi, local_amax)
            di = di * torch.exp(mi - mi_next) + torch.exp(
                values - mi_next[:, None]
            ).sum(dim=1)
            mi = mi_next
        for tile_n in hl.tile(n, block_size=block_size_n):
            values = x[tile_m, tile_n]
            out[tile_m, tile_n] = torch.exp(values - mi[:, None]) / di[:, None]
    return out


@helion.kernel()
def softmax_bwd(
    grad_output: torch.Tensor, softmax_output: torch.Tensor
) -> torch.Tensor:
    """
    Helion kernel implementing softmax backward pass.

    dy/dx = softmax_output * (grad_output - sum(softmax_output * grad_output))

    Args:
        grad_output (torch.Tensor): Gradient from downstream layers of shape [m, n]
        softmax_output (torch.Tensor): Output from forward softmax pass of shape [m, n]

    Returns:
        torch.Tensor: Gradient with respect to input of shape [m, n]
    """
    m, n = grad_output.size()
    grad_input = torch.empty_like(grad_output)

    for tile_m in hl.tile(m):
        sum_per_row = hl.zeros([tile_m], dtype=torch.float32)
        for tile_n in hl.tile(n):
            sum_per_row += torch.sum(
                softmax_output[tile_m, tile_n] * grad_output[tile_m, tile_n], dim=1
            )
        for tile_n in hl.tile(n):
            grad_input[tile_m, tile_n] = softmax_output[tile_m, tile_n] * (
                grad_output[tile_m, tile_n] - sum_per_row[:, None]
            )

    return grad_input

# fmt: on


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def softmax_bwd_reference(grad_output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * (grad_output - (y * grad_output).sum(-1, keepdim=True))


def row_length(shape: tuple[int, ...]) -> int:
    """N: each output depends on a sum over its row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    return (torch.randn(shape, generator=generator).to(dtype),)


def make_bwd_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    # y is a softmax output (what the autograd Function saves), entries of order 1/N; grad_output
    # of standard deviation N keeps y * (grad_output - sum) of order one, as the policy assumes.
    n = shape[-1]
    y = torch.softmax(torch.randn(shape, generator=generator), dim=-1)
    grad_output = torch.randn(shape, generator=generator) * n
    return grad_output.to(dtype), y.to(dtype)


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (4096, 2560) is the example's own main() shape.
_SHAPES = [(4096, 2560), (1000, 3001)]
_SMALL = [(16, 64), (5, 100)]


def _spec(
    name: str,
    kernel: object,
    reference: object,
    inputs: object,
    named: helion.Config,
    what: str,
) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=reference,  # type: ignore[arg-type]
        make_inputs=inputs,  # type: ignore[arg-type]
        reduction_length=row_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={"default": DEFAULT, "tiled": named},
        description=f"Helion example: {what}",
    )


SPECS = [
    # Whole rows: 4 rows per program, the row reduced in a loop of 32.
    _spec(
        "ex_softmax",
        softmax,
        softmax_reference,
        make_inputs,
        helion.Config(block_sizes=[4], reduction_loops=[32], num_warps=4),
        "softmax via F.softmax",
    ),
    _spec(
        "ex_softmax_decomposed",
        softmax_decomposed,
        softmax_reference,
        make_inputs,
        helion.Config(block_sizes=[4], reduction_loops=[32], num_warps=4),
        "softmax as max, exp, sum",
    ),
    # block_sizes = [rows, columns per step of both N loops].
    _spec(
        "ex_softmax_two_pass",
        softmax_two_pass,
        softmax_reference,
        make_inputs,
        helion.Config(block_sizes=[2, 32], num_warps=4),
        "online two-pass softmax",
    ),
    # block_sizes = [rows, columns of the sum loop, columns of the output loop].
    _spec(
        "ex_softmax_bwd",
        softmax_bwd,
        softmax_bwd_reference,
        make_bwd_inputs,
        helion.Config(block_sizes=[2, 32, 16], num_warps=4),
        "softmax backward",
    ),
]
