# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_layer_norm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_layer_norm_kernel` is copied verbatim (between
# `fmt: off/on`, with its `autotune_effort="none"`); the reference (torch's layer_norm over each
# sequence's whole [L_i, M] slice, as the example's `reference_jagged_layer_norm_pytorch`) is
# written here; dropped the tritonbench wrapper, `create_test_jagged_tensor` and `main()`
# (make_inputs draws the same data); added this header, the module docstring and SPEC.
"""Jagged layer norm (Helion example ``jagged_layer_norm``): normalize each sequence's slice.

Shape convention: ``(B, MAX_SEQLEN, M)``: sequence ``i`` is
``x_values[x_offsets[i]:x_offsets[i + 1], :]`` (``x_values`` is ``[total_L, M]``), its length
drawn from ``[1, MAX_SEQLEN]``; ``x_offsets`` is int64 ``[B + 1]``; eps is 1e-6. Each sequence is
normalized over all ``L_i * M`` of its elements (no affine); the output is ``[total_L, M]`` in
``x_values``' dtype (fp32 only, as the example: its mean accumulates in that dtype).
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(autotune_effort="none")
def jagged_layer_norm_kernel(
    x_values: torch.Tensor,  # [total_L, M] - compressed values
    x_offsets: torch.Tensor,  # [B+1] - sequence start offsets
    eps: float = 1e-6,
) -> torch.Tensor:
    """
    Compute layer normalization on jagged tensor using Helion.

    This kernel implements layer normalization for jagged tensors by:
    1. Computing mean and variance for each sequence individually
    2. Normalizing values within each sequence
    3. Applying optional affine transformation (weight/bias)

    Args:
        x_values: Compressed values tensor of shape [total_L, M]
        x_offsets: Sequence boundary offsets of shape [B+1]
        eps: Small value for numerical stability

    Returns:
        Normalized tensor of same shape as x_values [total_L, M]
    """
    total_L, M = x_values.shape
    B = x_offsets.size(0) - 1

    # Output tensor
    out = torch.empty_like(x_values)

    x_flat = x_values.view(-1)
    out_flat = out.view(-1)

    # Process sequences in tiles
    for tile_b in hl.tile(B):
        # Get sequence boundaries for this tile
        starts = x_offsets[tile_b]
        ends = x_offsets[tile_b.index + 1]
        seq_lengths = ends - starts

        # Initialize accumulators for mean and variance computation
        mean_acc = hl.zeros([tile_b], dtype=x_values.dtype)
        var_acc = hl.zeros([tile_b], dtype=x_values.dtype)

        # First pass: compute mean
        for tile_m in hl.tile(M):
            row_sums = hl.zeros([tile_b, tile_m], dtype=x_values.dtype)
            for tile_k in hl.jagged_tile(seq_lengths):
                flat_indices = (starts[:, None] + tile_k.index[None, :])[:, :, None] * M
                flat_indices = flat_indices + tile_m.index[None, None, :]
                x_slice = hl.load(x_flat, [flat_indices])
                row_sums = row_sums + x_slice.sum(dim=1)
            mean_acc = mean_acc + row_sums.sum(dim=1)
        seq_lengths_float = seq_lengths.to(x_values.dtype)
        mean_acc = mean_acc / (seq_lengths_float * M)

        # Second pass: compute variance
        for tile_m in hl.tile(M):
            var_sums = hl.zeros([tile_b, tile_m], dtype=x_values.dtype)
            for tile_k in hl.jagged_tile(seq_lengths):
                flat_indices = (starts[:, None] + tile_k.index[None, :])[:, :, None] * M
                flat_indices = flat_indices + tile_m.index[None, None, :]
                x_slice = hl.load(x_flat, [flat_indices])
                centered = x_slice.to(torch.float32) - mean_acc[:, None, None]
                var_sums = var_sums + (centered * centered).sum(dim=1)
            var_acc = var_acc + var_sums.sum(dim=1)

        # Compute variance and reciprocal standard deviation
        variance = var_acc / (seq_lengths_float * M)
        rstd = torch.rsqrt(variance + eps)

        # Third pass: compute layernorm
        for tile_m in hl.tile(M):
            for tile_k in hl.jagged_tile(seq_lengths):
                flat_indices = (starts[:, None] + tile_k.index[None, :])[:, :, None] * M
                flat_indices = flat_indices + tile_m.index[None, None, :]
                x_slice = hl.load(x_flat, [flat_indices])
                normalized = (
                    x_slice.to(torch.float32) - mean_acc[:, None, None]
                ) * rstd[:, None, None]
                hl.store(out_flat, [flat_indices], normalized.to(x_values.dtype))

    return out.reshape(total_L, M)
# fmt: on


def jagged_layer_norm_reference(x_values: torch.Tensor, x_offsets: torch.Tensor, eps: float) -> torch.Tensor:
    """torch's layer_norm over each sequence's whole [L_i, M] slice, slices concatenated."""
    bounds = x_offsets.tolist()
    slices = [x_values[a:b] for a, b in itertools.pairwise(bounds)]
    return torch.cat([torch.nn.functional.layer_norm(s, list(s.shape), eps=eps) for s in slices])


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQLEN * M: the mean and variance of a sequence sum up to that many terms."""
    return shape[1] * shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    b, max_seqlen, m = shape
    lengths = torch.randint(1, max_seqlen + 1, (b,), generator=generator)
    x_offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(lengths, dim=0)])
    x_values = torch.randn((int(x_offsets[-1]), m), generator=generator)
    return x_values.to(dtype), x_offsets, 1e-6


SPEC = KernelSpec(
    name="ex_jagged_layer_norm",
    kernel=jagged_layer_norm_kernel,
    reference=jagged_layer_norm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # The smallest and largest of the example's main() sweep (B in 32..16384, M in 32, 256,
    # MAX_SEQLEN 128).
    shapes=[(32, 128, 32), (16384, 128, 256)],
    small_shapes=[(4, 10, 16), (5, 33, 24)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # block_sizes = [sequences, then (features, jagged chunk) of each of the three passes].
        "chunk8": helion.Config(block_sizes=[2, 16, 8, 16, 8, 16, 8], num_warps=4),
    },
    description="Helion example: layer norm over each sequence of a jagged tensor",
)
