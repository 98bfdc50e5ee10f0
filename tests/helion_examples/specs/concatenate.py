# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/concatenate.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `concat2d_dim1_simple` and `concat2d_dim1` are copied
# verbatim (between `fmt: off/on`); dropped `main()`; added this header, the module docstring,
# the reference, make_inputs and the SPECS.
"""Concatenation along dim 1 (Helion example ``concatenate``), two ways.

Shape convention: ``(M, N1, N2)``: ``x`` is ``[M, N1]`` and ``y`` is ``[M, N2]``; the output is
``[M, N1 + N2]``. ``ex_concat_simple`` tiles rows and stores each source into its slice;
``ex_concat_masked`` tiles both output dims and picks x or y per column with ``hl.load``'s
``extra_mask`` (tiles straddling the x/y boundary).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def concat2d_dim1_simple(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """
    Concatenates two 2D tensors along dimension 1 using separate stores.

    Tiles the row dimension and writes each source tensor into its
    corresponding slice of the output, avoiding manual masking.

    Args:
        x: First input tensor of shape [M, N1]
        y: Second input tensor of shape [M, N2] with same first dimension as x

    Returns:
        Output tensor of shape [M, N1+N2]
    """
    assert x.size(0) == y.size(0)
    out = torch.empty(
        [x.size(0), x.size(1) + y.size(1)], dtype=x.dtype, device=x.device
    )
    n1 = x.size(1)
    for tile_m in hl.tile(x.size(0)):
        out[tile_m, :n1] = x[tile_m, :]
        out[tile_m, n1:] = y[tile_m, :]
    return out


# Tiles both dimensions of the output. Because a single tile along the
# column dimension can span both source tensors, ``hl.load`` with
# ``extra_mask`` is used to selectively load from each source, and
# ``torch.where`` merges the results.


@helion.kernel()
def concat2d_dim1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """
    Concatenates two 2D tensors along dimension 1 using masked loads.

    Tiles both dimensions and uses ``hl.load`` with ``extra_mask`` to
    handle tiles that straddle the boundary between the two source tensors.

    Args:
        x: First input tensor of shape [M, N1]
        y: Second input tensor of shape [M, N2] with same first dimension as x

    Returns:
        Output tensor of shape [M, N1+N2]
    """
    assert x.size(0) == y.size(0)
    out = torch.empty(
        [x.size(0), x.size(1) + y.size(1)], dtype=x.dtype, device=x.device
    )
    for tile0, tile1 in hl.tile(out.size()):
        # Most masking is automatic in helion, but tile1 spans both x and y we need to do some manual masking
        x_part = hl.load(
            x, [tile0, tile1], extra_mask=(tile1.index < x.size(1))[None, :]
        )
        y_part = hl.load(
            y,
            [tile0, tile1.index - x.size(1)],
            extra_mask=(tile1.index >= x.size(1))[None, :],
        )
        out[tile0, tile1] = torch.where(
            (tile1.index < x.size(1))[None, :], x_part, y_part
        )
    return out
# fmt: on


def concat_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, y], dim=1)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, n1, n2 = shape
    x = torch.randn((m, n1), generator=generator)
    y = torch.randn((m, n2), generator=generator)
    return x.to(dtype), y.to(dtype)


# (5, 37, 60): the x/y boundary at column 37 falls inside a tile for every power-of-2 tile.
_SHAPES = [(4096, 2048, 1024), (1000, 1500, 777)]
_SMALL = [(8, 16, 32), (5, 37, 60)]
_DTYPES = [torch.float32, torch.float16, torch.bfloat16]

SPECS = [
    KernelSpec(
        name="ex_concat_simple",
        kernel=concat2d_dim1_simple,
        reference=concat_reference,
        make_inputs=make_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # Two rows per program.
            "rows2": helion.Config(block_sizes=[2], num_warps=2),
        },
        # Third-party kernels: no golden files of their generated code are kept.
        description="Helion example: concat along dim 1, one store per source",
    ),
    KernelSpec(
        name="ex_concat_masked",
        kernel=concat2d_dim1,
        reference=concat_reference,
        make_inputs=make_inputs,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={
            "default": DEFAULT,
            # 4 x 16 tiles: tiles straddle the x/y boundary on (5, 37, 60).
            "tile_4x16": helion.Config(block_sizes=[4, 16], num_warps=2),
        },
        description="Helion example: concat along dim 1, 2-D tiles with masked loads",
    ),
]
