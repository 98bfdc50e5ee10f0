# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_dense_add.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_dense_add_2d` is copied verbatim (between `fmt: off/on`);
# the reference is written here after the example's `jagged_dense_add_2d_reference`; dropped
# `random_jagged_2d` and `main()` (make_inputs draws the same data); added this header, the
# module docstring and SPEC. The example runs fp32; the sweep adds fp16 and bf16 (an add).
"""Jagged + dense add (Helion example ``jagged_dense_add``): ``out = y`` plus each row's prefix.

Shape convention: ``(ROWS, COLS)`` is the shape of the dense ``y``; row ``i`` of the jagged
tensor is ``x_data[x_offsets[i]:x_offsets[i + 1]]`` (1-D ``x_data``), its length ``K_i`` drawn
from ``[1, COLS]``, added to ``y[i, :K_i]``; ``x_offsets`` is int64 ``[ROWS + 1]``. The output is
``[ROWS, COLS]`` in ``y``'s dtype.
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def jagged_dense_add_2d(
    x_data: torch.Tensor, x_offsets: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """
    Add a jagged-prefix sparse tensor (x_data, x_offsets) to a dense matrix y
    and return the dense result.

    Args:
        x_data: 1-D tensor holding all non-zero elements row-by-row
        x_offsets: (num_rows + 1) tensor. Row i is the slice
                   x_data[x_offsets[i] : x_offsets[i+1]] (length K_i)
        y: (num_rows, N) tensor, N >= max(K_i)

    Returns:
        Dense tensor of shape (num_rows, N) containing the sum of the jagged and dense tensors
    """
    num_rows = y.size(0)
    assert x_offsets.size(0) == num_rows + 1
    out = torch.zeros_like(y)
    for tile0 in hl.tile(num_rows):
        starts = x_offsets[tile0]
        ends = x_offsets[tile0.index + 1]
        nnz = ends - starts
        max_nnz = nnz.amax()
        # Note, the dynamic loop bounds aren't strictly necessary for this example, since
        # the output is dense, and we iterate over the rest in the next loop. However,
        # it is useful to illustrate how more complex jagged+jagged ops can be handled.
        for tile1 in hl.tile(0, max_nnz):
            x_slice = hl.load(
                x_data,
                [starts[:, None] + tile1.index[None, :]],
                extra_mask=tile1.index[None, :] < nnz[:, None],
            )
            out[tile0, tile1] = y[tile0, tile1] + x_slice
        for tile1 in hl.tile(max_nnz, out.size(1)):
            # fill in any leftover columns with y
            out[tile0, tile1] = y[tile0, tile1]
    return out
# fmt: on


def jagged_dense_add_reference(
    x_data: torch.Tensor, x_offsets: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """y with each row's jagged slice added to its first K_i columns."""
    out = y.clone()
    bounds = x_offsets.tolist()
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        out[i, : b - a] += x_data[a:b]
    return out


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows, cols = shape
    lengths = torch.randint(1, cols + 1, (rows,), generator=generator)
    x_offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(lengths, dim=0)])
    x_data = torch.randn(int(x_offsets[-1]), generator=generator)
    y = torch.randn((rows, cols), generator=generator)
    return x_data.to(dtype), x_offsets, y.to(dtype)


SPEC = KernelSpec(
    name="ex_jagged_dense_add",
    kernel=jagged_dense_add_2d,
    reference=jagged_dense_add_reference,
    make_inputs=make_inputs,
    # (256, 5000) is the example's main() shape.
    shapes=[(256, 5000), (1000, 1023)],
    small_shapes=[(8, 64), (5, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [rows, jagged columns, leftover columns]: several column tiles per row.
        "tile_4x16": helion.Config(block_sizes=[4, 16, 16], num_warps=2),
    },
    description="Helion example: jagged prefix added to a dense matrix",
)
