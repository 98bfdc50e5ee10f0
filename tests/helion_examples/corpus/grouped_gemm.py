# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/grouped_gemm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `grouped_gemm_jagged` and
# `grouped_gemm_jagged_persistent` are copied verbatim (between `fmt: off/on`); dropped the
# packing helper (make_inputs packs), the tritonbench and example wrappers, the reference and
# `main()`; added this header, the module docstring, the reference, make_inputs and SPECS.
"""Grouped GEMM over jagged row groups (Helion example ``grouped_gemm``), one shared ``B``.

Shape convention: ``(G, M1, K, N)``: ``G`` groups, group ``g`` has ``M1 * (g + 1)`` rows (the
example's main() uses 64, 128, 192, 256), packed into ``A_packed`` ``[sum M_g, K]``; ``B`` is
``[K, N]``, ``group_offsets`` ``[G + 1]`` int32 row offsets. The output is
``[sum M_g, N]``, each group's rows times ``B``, in the inputs' dtype; fp32 accumulation.
``grouped_gemm_jagged_persistent`` launches one program per SM and deals tiles out itself.
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=False)
def grouped_gemm_jagged(
    A_packed: torch.Tensor,  # [total_M, K], where total_M == sum(M_i)
    B: torch.Tensor,  # [K, N] shared across all groups
    group_offsets: torch.Tensor,  # [G+1], int32/int64, row offsets into A_packed
) -> torch.Tensor:  # [total_M, N] concatenated outputs for all groups
    """
    Perform grouped GEMM on jagged inputs using row offsets.

    Args:
        A_packed: Row-wise concatenation of per-group inputs ``A_i``,
            shape ``[sum(M_i), K]``.
        B: Shared weight matrix, shape ``[K, N]``.
        group_offsets: Row offsets delimiting each group within ``A_packed``,
            shape ``[G+1]``. For group ``g``: rows are
            ``start = group_offsets[g]`` to ``end = group_offsets[g+1]``.

    Returns:
        Output tensor of shape ``[sum(M_i), N]`` equal to
        ``torch.cat([A_i @ B for i in groups], dim=0)``.
    """
    total_M, K = A_packed.shape
    K2, N = B.shape
    assert K == K2, "K dimension mismatch between A_packed and B"

    out = torch.empty(
        total_M,
        N,
        dtype=torch.promote_types(A_packed.dtype, B.dtype),
        device=A_packed.device,
    )

    G = group_offsets.size(0) - 1

    # Process each group independently, tiling over its specific M_g dimension
    for g in hl.grid(G):
        start = group_offsets[g]
        end = group_offsets[g + 1]
        M_g = end - start
        if M_g != 0:
            # Create 2D tiling pattern over output dimensions (M_g x N) for current group
            for tile_m, tile_n in hl.tile([M_g, N]):
                acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
                # K-reduction loop: multiply tiles along K dimension
                for tile_k in hl.tile(K):
                    a_blk = A_packed[start + tile_m.index, tile_k]
                    b_blk = B[tile_k, tile_n]
                    # Perform fused multiply-add with FP32 accumulation for numerical stability
                    acc = torch.addmm(acc, a_blk, b_blk)
                # Convert accumulator to output dtype and store result
                out[start + tile_m.index, tile_n] = acc.to(out.dtype)

    return out
@helion.kernel(static_shapes=False)
def grouped_gemm_jagged_persistent(
    A_packed: torch.Tensor,  # [total_M, K]
    B: torch.Tensor,  # [K, N]
    group_offsets: torch.Tensor,  # [G+1], row offsets into A_packed
) -> torch.Tensor:
    """
    Persistent grouped GEMM with dynamic tile metadata computation.

    This variant computes tile assignments dynamically in the kernel,
    similar to TritonBench's WS variant.

    Args:
        A_packed: Packed A, concatenated by rows across groups, ``[sum(M_i), K]``.
        B: Shared weight matrix, ``[K, N]``.
        group_offsets: Row offsets delimiting each group within ``A_packed``.

    Returns:
        Output tensor of shape ``[sum(M_i), N]``.
    """
    # Set worker count to match the backend's persistent worker abstraction.
    num_workers = helion.runtime.get_num_sm(A_packed.device)

    # Define tunable block sizes for M, N dimensions (auto-tuned at runtime)
    BLOCK_M = hl.register_block_size(32, 128)
    BLOCK_N = hl.register_block_size(32, 128)
    total_M, K = A_packed.shape
    K2, N = B.shape
    assert K == K2

    out = torch.zeros(
        total_M,
        N,
        dtype=torch.promote_types(A_packed.dtype, B.dtype),
        device=A_packed.device,
    )

    G = group_offsets.size(0) - 1

    for worker_id in hl.grid(num_workers):
        # Persistent thread pattern: each worker processes tiles across all groups
        # using strided/interleaved assignment for load balancing.
        # (i.e. each worker takes every num_workers-th tile. e.g., worker 0 takes tiles 0, N, 2N, ...)
        for g in hl.grid(G):
            group_start = group_offsets[g]
            group_end = group_offsets[g + 1]
            m_size = group_end - group_start

            if m_size > 0:
                # Compute tile grid dimensions for current group
                num_m_tiles = (m_size + BLOCK_M - 1) // BLOCK_M
                # Calculate number of N tiles (shared across all groups)
                num_n_tiles = (N + BLOCK_N - 1) // BLOCK_N
                num_group_tiles = num_m_tiles * num_n_tiles

                # Distribute tiles among workers using strided access pattern
                for local_tile in hl.grid(num_group_tiles):
                    tile_in_group = local_tile * num_workers + worker_id
                    if tile_in_group < num_group_tiles:
                        # Convert linear tile index to 2D (M, N) tile coordinates
                        # pyrefly: ignore[unsupported-operation]
                        m_tile_idx = tile_in_group % num_m_tiles
                        # pyrefly: ignore[unsupported-operation]
                        n_tile_idx = tile_in_group // num_m_tiles

                        # Compute global memory indices for current tile
                        base_row = group_start + m_tile_idx * BLOCK_M
                        # pyrefly: ignore[unsupported-operation]
                        base_col = n_tile_idx * BLOCK_N

                        # Generate row and column index ranges for tile access
                        row_idx = base_row + hl.arange(BLOCK_M)
                        col_idx = base_col + hl.arange(BLOCK_N)

                        # Apply boundary masks to handle partial tiles at edges
                        rows_valid = row_idx < group_end
                        cols_valid = col_idx < N

                        # Initialize FP32 accumulator for numerical precision
                        acc = hl.zeros([BLOCK_M, BLOCK_N], dtype=torch.float32)

                        # Iterate over K dimension in blocks for matrix multiplication
                        for k_tile in hl.tile(K):
                            k_idx = k_tile.index

                            # Load tiles from A_packed and B with boundary checking
                            a_blk = hl.load(
                                A_packed,
                                [row_idx, k_idx],
                                extra_mask=rows_valid[  # pyrefly: ignore[bad-index]
                                    :, None
                                ],
                            )
                            b_blk = hl.load(
                                B,
                                [k_idx, col_idx],
                                extra_mask=cols_valid[None, :],  # pyrefly: ignore[bad-index]
                            )

                            # Perform tile-level matrix multiplication and accumulate
                            acc = torch.addmm(acc, a_blk, b_blk)

                        # Write accumulated result to output with boundary masking
                        # pyrefly: ignore[bad-index]
                        valid_2d = rows_valid[:, None] & cols_valid[None, :]
                        hl.store(
                            out,
                            [row_idx, col_idx],
                            acc.to(out.dtype),
                            extra_mask=valid_2d,
                        )

    return out
# fmt: on


def grouped_gemm_reference(
    a_packed: torch.Tensor, b: torch.Tensor, group_offsets: torch.Tensor
) -> torch.Tensor:
    bounds = group_offsets.tolist()
    return torch.cat([a_packed[lo:hi] @ b for lo, hi in itertools.pairwise(bounds)])


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    groups, m1, k, n = shape
    rows = [m1 * (g + 1) for g in range(groups)]
    offsets = torch.tensor([0, *torch.tensor(rows).cumsum(0).tolist()], dtype=torch.int32)
    # Standard deviation K**-0.25 on both sides keeps every output element O(1).
    std = k**-0.25
    a_packed = (torch.randn((sum(rows), k), generator=generator) * std).to(dtype)
    b = (torch.randn((k, n), generator=generator) * std).to(dtype)
    return a_packed, b, offsets


def _spec(name: str, kernel: object, configs: dict[str, object], what: str) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=grouped_gemm_reference,
        make_inputs=make_inputs,
        reduction_length=reduction_length,
        # (4, 64, 256, 128) is the example's own shape (main()).
        shapes=[(4, 64, 256, 128), (8, 256, 2048, 1024)],
        small_shapes=[(3, 5, 32, 16), (2, 16, 16, 33)],
        dtypes=[torch.float32, torch.float16, torch.bfloat16],
        configs={"default": DEFAULT, **configs},
        # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
        dot_precision={torch.float32: "tf32"},
        description=f"Helion example: grouped GEMM over jagged row groups{what}",
    )


SPECS = [
    _spec(
        "ex_grouped_gemm",
        grouped_gemm_jagged,
        # block_sizes = [M, N, K] tiles inside a group.
        {"tiles": helion.Config(block_sizes=[32, 32, 32], num_warps=4)},
        "",
    ),
    _spec(
        "ex_grouped_gemm_persistent",
        grouped_gemm_jagged_persistent,
        # block_sizes = [BLOCK_M, BLOCK_N, K] (the registered sizes first).
        {"tiles": helion.Config(block_sizes=[64, 32, 32], num_warps=4)},
        ", persistent (one program per SM)",
    ),
]
