# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_softmax.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_softmax_kernel` is copied verbatim (between `fmt: off/on`);
# the reference (a softmax over each row's slice along the ragged dim, as the example's
# `reference_jagged_softmax_pytorch`) is written here; dropped the tritonbench wrapper and
# `main()`; make_inputs follows `main()`; added this header, the module docstring and SPEC.
"""Jagged softmax (Helion example ``jagged_softmax``): softmax along the ragged dim of each row.

Shape convention: ``(NUM_ROWS, MAX_SEQLEN, M)``: row ``i`` of the jagged tensor is
``x_data[x_offsets[i]:x_offsets[i + 1], :]`` (``x_data`` is ``[nnz, M]``), its length drawn from
``[1, MAX_SEQLEN]``; ``x_offsets`` is int64 ``[NUM_ROWS + 1]``. The output ``[nnz, M]`` is, for
each row and feature, the softmax over that row's slice (an online max/sum pass, then a
normalizing pass), in ``x_data``'s dtype (fp32 only, as the example). The host code reads
``x_offsets[-1]`` (``.item()``), so full shapes bind real inputs on CPU too.
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def jagged_softmax_kernel(
    x_data: torch.Tensor,
    x_offsets: torch.Tensor,
) -> torch.Tensor:
    """
    Compute the per-batch softmax in a jagged tensor.

    Args:
        x_data: 2-D tensor of shape (total_elements, max_M) holding all elements
        x_offsets: (num_rows + 1) tensor. Row i is the slice
                   x_data[x_offsets[i] : x_offsets[i+1], :]

    Returns:
        2-D tensor of shape (total_elements, max_M), containing the per-batch softmax scores.
    """
    N = int(x_offsets[-1].item())
    num_rows, M = x_offsets.size(0) - 1, x_data.size(1)
    out = torch.zeros(N * M, dtype=x_data.dtype, device=x_data.device)

    # flatten
    x_flat = x_data.view(-1)

    for tile_b in hl.tile(num_rows):
        starts = x_offsets[tile_b]
        ends = x_offsets[tile_b.index + 1]
        seqlens = ends - starts

        for tile_m in hl.tile(M):
            block_max = hl.full([tile_b, tile_m], float("-inf"), dtype=x_data.dtype)
            block_new_max = hl.full([tile_b, tile_m], float("-inf"), dtype=x_data.dtype)
            block_L = hl.full([tile_b, tile_m], 0.0, dtype=x_data.dtype)

            for tile_k in hl.jagged_tile(seqlens):
                base_indices = starts[:, None] + tile_k.index[None, :]
                flat_indices = (
                    base_indices[:, :, None] * M + tile_m.index[None, None, :]
                )
                x_slice = hl.load(x_flat, [flat_indices])
                slice_max = x_slice.amax(dim=1)
                block_new_max = torch.maximum(block_max, slice_max)
                block_L *= torch.exp(block_max - block_new_max)
                block_L += torch.exp(x_slice - block_new_max[:, None, :]).sum(dim=1)
                block_max = block_new_max

            for tile_k in hl.jagged_tile(seqlens):
                base_indices = starts[:, None] + tile_k.index[None, :]
                flat_indices = (
                    base_indices[:, :, None] * M + tile_m.index[None, None, :]
                )
                x_slice = hl.load(x_flat, [flat_indices])
                block_out = (
                    torch.exp(x_slice - block_max[:, None, :]) / block_L[:, None, :]
                )
                hl.store(out, [flat_indices], block_out)

    return out.reshape(N, M)

# fmt: on


def jagged_softmax_reference(x_data: torch.Tensor, x_offsets: torch.Tensor) -> torch.Tensor:
    """Softmax along dim 0 of each row's slice, slices concatenated back in order."""
    bounds = x_offsets.tolist()
    return torch.cat([torch.softmax(x_data[a:b], dim=0) for a, b in itertools.pairwise(bounds)])


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQLEN: each output's denominator sums over its row's slice."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    num_rows, max_seqlen, m = shape
    lengths = torch.randint(1, max_seqlen + 1, (num_rows,), generator=generator)
    x_offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(lengths, dim=0)])
    nnz = int(x_offsets[-1])
    x_data = torch.randn((nnz, m), generator=generator)
    return x_data.to(dtype), x_offsets


SPEC = KernelSpec(
    name="ex_jagged_softmax",
    kernel=jagged_softmax_kernel,
    reference=jagged_softmax_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (512, 64, 128) is the example's main() shape.
    shapes=[(512, 64, 128), (1000, 257, 96)],
    small_shapes=[(4, 10, 16), (5, 33, 24)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # block_sizes = [rows, features, jagged chunk of pass 1, of pass 2]: several chunks.
        "chunk8": helion.Config(block_sizes=[2, 16, 8, 8], num_warps=4),
    },
    description="Helion example: softmax along the ragged dimension of a jagged tensor",
)
