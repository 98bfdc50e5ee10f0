# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_mean.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_mean_kernel` is copied verbatim (between `fmt: off/on`);
# the reference is written here after the example's `reference_jagged_mean_kernel_pytorch`;
# dropped the tritonbench wrapper and `main()`; make_inputs follows `main()` (lengths in
# [1, MAX_SEQLEN], feature counts in [1, MAX_M]); added this header, the module docstring and SPEC.
"""Jagged mean (Helion example ``jagged_mean``): mean over the ragged dim, per-row feature counts.

Shape convention: ``(NUM_ROWS, MAX_SEQLEN, MAX_M)``: row ``i`` of the jagged tensor is
``x_data[x_offsets[i]:x_offsets[i + 1], :]`` (``x_data`` is ``[nnz, MAX_M]``), its length drawn
from ``[1, MAX_SEQLEN]``; ``x_offsets`` is int64 ``[NUM_ROWS + 1]``, ``x_feature_counts`` int32
``[NUM_ROWS]`` in ``[1, MAX_M]``. The output ``[NUM_ROWS, MAX_M]`` holds each row's mean over its
first ``x_feature_counts[i]`` features and zeros past them, accumulated in ``x_data``'s dtype
(fp32 only, as the example).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def jagged_mean_kernel(
    x_data: torch.Tensor,
    x_offsets: torch.Tensor,
    x_feature_counts: torch.Tensor,  # [num_rows] - number of features per row
    max_M: int,  # Maximum number of features
) -> torch.Tensor:
    """
    Compute the mean of each row in a jagged tensor with variable features per row.

    Args:
        x_data: 2-D tensor of shape (total_elements, max_M) holding all elements
        x_offsets: (num_rows + 1) tensor. Row i is the slice
                   x_data[x_offsets[i] : x_offsets[i+1], :]
        x_feature_counts: (num_rows) tensor. Number of valid features for each row
        max_M: Maximum number of features

    Returns:
        2-D tensor of shape (num_rows, max_M) containing the mean of each row.
        Invalid features (beyond x_feature_counts[i]) are set to 0.
    """
    num_rows = x_offsets.size(0) - 1

    out = torch.zeros([num_rows, max_M], dtype=x_data.dtype, device=x_data.device)

    # Flatten x_data for easier indexing
    x_flat = x_data.view(-1)

    # Process rows in tiles
    for tile_b in hl.tile(num_rows):
        starts = x_offsets[tile_b]
        ends = x_offsets[tile_b.index + 1]
        nnz = ends - starts
        feature_counts = x_feature_counts[tile_b]

        for tile_m in hl.jagged_tile(feature_counts):
            row_sums = hl.zeros([tile_b, tile_m], dtype=x_data.dtype)

            for tile_k in hl.jagged_tile(nnz):
                flat_indices = (starts[:, None] + tile_k.index[None, :])[
                    :, :, None
                ] * max_M
                flat_indices = flat_indices + tile_m.index[None, None, :]

                x_slice = hl.load(x_flat, [flat_indices])
                row_sums = row_sums + x_slice.sum(dim=1)

            nnz_float = nnz.to(x_data.dtype)
            nnz_expanded = nnz_float[:, None]
            result = torch.where(nnz_expanded > 0, row_sums / nnz_expanded, 0.0)
            out[tile_b, tile_m] = result

    return out

# fmt: on


def jagged_mean_reference(
    x_data: torch.Tensor, x_offsets: torch.Tensor, x_feature_counts: torch.Tensor, max_M: int
) -> torch.Tensor:
    """Each row's column means over its valid features; zero elsewhere (and for empty rows)."""
    out = x_data.new_zeros((x_offsets.numel() - 1, max_M))
    bounds = x_offsets.tolist()
    for i, count in enumerate(x_feature_counts.tolist()):
        rows = x_data[bounds[i] : bounds[i + 1], :count]
        if rows.shape[0] > 0:
            out[i, :count] = rows.mean(dim=0)
    return out


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQLEN: the longest row slice an output element averages."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    num_rows, max_seqlen, max_m = shape
    lengths = torch.randint(1, max_seqlen + 1, (num_rows,), generator=generator)
    x_offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(lengths, dim=0)])
    nnz = int(x_offsets[-1])
    x_data = torch.randn((nnz, max_m), generator=generator)
    feature_counts = torch.randint(1, max_m + 1, (num_rows,), generator=generator, dtype=torch.int32)
    return x_data.to(dtype), x_offsets, feature_counts, max_m


SPEC = KernelSpec(
    name="ex_jagged_mean",
    kernel=jagged_mean_kernel,
    reference=jagged_mean_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (32, 64, 8) is the example's main() shape; (512, 1024, 256) a tritonbench-sized one.
    shapes=[(32, 64, 8), (512, 1024, 256)],
    small_shapes=[(4, 10, 16), (5, 33, 24)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # block_sizes = [rows, features, jagged chunk]: several feature tiles, several chunks.
        "chunk8": helion.Config(block_sizes=[2, 8, 8], num_warps=4),
    },
    description="Helion example: mean over the ragged dimension, per-row feature counts",
)
