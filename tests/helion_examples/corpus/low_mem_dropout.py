# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/low_mem_dropout.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `low_mem_dropout` and `low_mem_dropout_bwd` are copied
# verbatim (between `fmt: off/on`); dropped the tritonbench wrapper, `check()` and `main()`; the
# reference, make_inputs (p 0.25, seed 123 as the example) and the SPECS are written here.
"""Low-memory dropout (Helion example ``low_mem_dropout``): the keep mask is regenerated, not stored.

Shape convention: ``(N,)`` is the shape of ``x`` (and of ``grad_y`` for the backward). Both
kernels compute ``where(rand(seed, i) > p, v * 1 / (1 - p), 0)`` for element ``i``, in fp32, stored
in the input dtype; the forward applies it to ``x``, the backward to ``grad_y`` with the same
seed, so the backward zeroes exactly what the forward dropped. ``rand(seed, i)`` is Triton's
Philox ``tl.rand`` at offset ``i`` (Helion's ``hl.rand`` over a 1-D tile uses the flat index).

The reference draws the same numbers with Helion's PyTorch implementation of Triton's Philox
(``helion._compiler.rng_utils.philox_rand_ref``, what Helion's eager reference mode runs): the
compared kernels are the generated Triton code's ``tl.rand``, not that function.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from helion._compiler.rng_utils import philox_rand_ref

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=False)
def low_mem_dropout(p: float, x: torch.Tensor, seed: int) -> torch.Tensor:
    """
    Applies dropout on x using p
    Args:
        p (float): dropout probability
        x (torch.Tensor): input tensor
    Returns:
        Output tensor
    """
    scale = 1.0 / (1.0 - p)
    # flatten to 1D so we can use tile
    n = x.numel()
    x_flat = x.view(-1)
    out_flat = torch.empty_like(x_flat)
    for tidx in hl.tile(n):
        xi = x_flat[tidx].to(torch.float32)
        r = hl.rand([tidx], seed=seed)
        keep = r > p
        yscaled = xi * scale
        yi = torch.where(keep, yscaled, 0.0)
        out_flat[tidx] = yi.to(x.dtype)
    return out_flat.view_as(x)


# %%
# Low mem dropout backward implementation
# ---------------------------------------


# %%
@helion.kernel(static_shapes=False)
def low_mem_dropout_bwd(p: float, grad_y: torch.Tensor, seed: int) -> torch.Tensor:
    """
    For low mem dropout we are applying randomness inside both fwd and bwd
    technically dropout bwd is same as fwd
    Args:
        p (float): Dropout probability
        grad_y (torch.Tensor): Gradient tensor
    Returns:
        Output tensor
    """
    scale = 1.0 / (1.0 - p)
    n = grad_y.numel()
    grad_y_flat = grad_y.view(-1)
    out_flat = torch.empty_like(grad_y_flat)
    for tidx in hl.tile(n):
        gi = grad_y_flat[tidx].to(torch.float32)
        r = hl.rand([tidx], seed=seed)
        keep = r > p
        g_scaled = gi * scale
        gxi = torch.where(keep, g_scaled, 0.0)
        out_flat[tidx] = gxi.to(grad_y.dtype)
    return out_flat.view_as(grad_y)


# fmt: on

#: The example's dropout probability and seed.
P = 0.25
SEED = 123


def dropout_reference(p: float, v: torch.Tensor, seed: int) -> torch.Tensor:
    """v scaled by 1 / (1 - p) where Philox's uniform draw at v's flat index exceeds p, else 0."""
    r = philox_rand_ref(seed, torch.arange(v.numel(), dtype=torch.int64)).to(v.device)
    keep = (r > p).reshape(v.shape)
    return torch.where(keep, v * (1.0 / (1.0 - p)), 0.0)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[float, torch.Tensor, int]:
    return P, torch.randn(shape, generator=generator).to(dtype), SEED


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (8192,) and (32768,) are the sizes the example's main() checks.
_SHAPES = [(8192,), (32768,)]
_SMALL = [(1024,), (1000,)]
_CONFIGS = {
    "default": DEFAULT,
    # block_sizes = [elements per program]: a partial last tile on (1000,).
    "block128": helion.Config(block_sizes=[128], num_warps=4),
}

SPECS = [
    KernelSpec(
        name="ex_low_mem_dropout",
        kernel=low_mem_dropout,
        reference=dropout_reference,
        make_inputs=make_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        description="Helion example: dropout with a Philox mask regenerated from the seed",
    ),
    KernelSpec(
        name="ex_low_mem_dropout_bwd",
        kernel=low_mem_dropout_bwd,
        reference=dropout_reference,
        make_inputs=make_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        description="Helion example: dropout backward, the forward's mask regenerated",
    ),
]
