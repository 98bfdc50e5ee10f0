# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_sum.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_sum_kernel` is copied verbatim (between `fmt: off/on`);
# the reference is the example's `reference_jagged_sum_kernel_pytorch`, copied verbatim; dropped
# the tritonbench wrapper and `main()`; make_inputs follows the example's
# `create_test_jagged_tensor`; added this header, the module docstring and SPEC.
"""Jagged sum (Helion example ``jagged_sum``): sum over the ragged dim of each row.

Shape convention: ``(NUM_ROWS, MAX_SEQLEN, M)``: row ``i`` of the jagged tensor is
``x_data[x_offsets[i]:x_offsets[i + 1], :]`` (``M`` features), with lengths drawn from
``[1, MAX_SEQLEN]``; ``x_offsets`` is int64 ``[NUM_ROWS + 1]``. The output ``[NUM_ROWS, M]`` sums
each row's slice, accumulated in ``x_data``'s dtype (fp32 only, as the example).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def jagged_sum_kernel(
    x_data: torch.Tensor,
    x_offsets: torch.Tensor,
) -> torch.Tensor:
    """
    Compute the mean of each row in a jagged tensor with variable features per row.

    Args:
        x_data: 2-D tensor of shape (total_elements, M) holding all elements
        x_offsets: (num_rows + 1) tensor. Row i is the slice
                   x_data[x_offsets[i] : x_offsets[i+1], :]

    Returns:
        2-D tensor of shape (num_rows, M) containing the sum of jagged dimension.
    """
    M = x_data.shape[1]
    num_rows = x_offsets.size(0) - 1

    out = torch.zeros([num_rows, M], dtype=x_data.dtype, device=x_data.device)

    # Flatten x_data for easier indexing
    x_flat = x_data.view(-1)

    # Process rows in tiles
    for tile_b in hl.tile(num_rows):
        starts = x_offsets[tile_b]
        ends = x_offsets[tile_b.index + 1]
        nnz = ends - starts

        for tile_m in hl.tile(M):
            row_sums = hl.zeros([tile_b, tile_m], dtype=x_data.dtype)

            for tile_k in hl.jagged_tile(nnz):
                base_indices = starts[:, None] + tile_k.index[None, :]
                flat_indices = (
                    base_indices[:, :, None] * M + tile_m.index[None, None, :]
                )
                x_slice = hl.load(x_flat, [flat_indices])
                row_sums = row_sums + x_slice.sum(dim=1)

            out[tile_b, tile_m] = row_sums

    return out


def reference_jagged_sum_kernel_pytorch(
    x_data: torch.Tensor,
    x_offsets: torch.Tensor,
) -> torch.Tensor:
    """
    PyTorch reference implementation for jagged mean with variable features.

    Args:
        x_data: 2-D tensor holding all elements
        x_offsets: Offsets tensor for row indexing

    Returns:
        Tensor containing the mean of each row
    """
    num_rows = x_offsets.numel() - 1
    M = x_data.size(1)
    out = torch.zeros((num_rows, M), dtype=x_data.dtype, device=x_data.device)
    for i in range(num_rows):
        start = int(x_offsets[i])
        end = int(x_offsets[i + 1])
        if end > start:
            out[i, :] = x_data[start:end, :].sum(dim=0)
    return out
# fmt: on


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQLEN: the longest row slice an output element sums."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    num_rows, max_seqlen, m = shape
    seq_lengths = torch.randint(1, max_seqlen + 1, (num_rows,), generator=generator)
    x_offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(seq_lengths, dim=0)])
    nnz = int(x_offsets[-1])
    # Scaled by 1/sqrt(MAX_SEQLEN) so row sums are of order one.
    x_data = torch.randn((nnz, m), generator=generator) * max_seqlen**-0.5
    return x_data.to(dtype), x_offsets


SPEC = KernelSpec(
    name="ex_jagged_sum",
    kernel=jagged_sum_kernel,
    reference=reference_jagged_sum_kernel_pytorch,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (8, 64, 128) is the example's own shape.
    shapes=[(8, 64, 128), (512, 1024, 256)],
    small_shapes=[(4, 10, 16), (5, 33, 24)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # block_sizes = [rows, features, jagged chunk]: the ragged loop runs several chunks.
        "chunk8": helion.Config(block_sizes=[2, 16, 8], num_warps=4),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: sum over the ragged dimension of a jagged tensor",
)
