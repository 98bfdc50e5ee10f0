# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/moe_matmul_ogs.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `moe_matmul_ogs` is copied verbatim (between `fmt: off/on`);
# dropped the argument generator and the reference (both rewritten below, the reference reading
# the kernel's routing arguments instead of the per-token expert ids), `check()` and `main()`;
# added this header, the module docstring, the reference, make_inputs and SPEC.
"""Mixture-of-experts matmul, outer gather-scatter (Helion example ``moe_matmul_ogs``).

Shape convention: ``(T, K, N, E)``: ``A [T, K]`` activations, ``W [E, K, N]`` expert weights,
each token routed to one random expert. The routing arguments are int32: tokens per expert
``[E]``, their offsets in expert-sorted order ``[E + 1]``, the sorted-to-original token map
``[T]``, plus the Python int ``max_T_per_expert``. Output ``C [T, N]`` in the inputs' dtype:
``C[t] = A[t] @ W[expert(t)]``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=False)
def moe_matmul_ogs(
    A: torch.Tensor,  # [T, K] - Input activations (T tokens, K features)
    W: torch.Tensor,  # [E, K, N] - Expert weights (E experts, K input features, N output features)
    expert_token_counts: torch.Tensor,  # [E] - Number of tokens assigned to each expert
    expert_token_offsets: torch.Tensor,  # [E + 1] - Starting position of each expert's tokens in sorted order
    sorted_to_orig_token_idx: torch.Tensor,  # [T] - Maps sorted token positions back to original positions
    max_T_per_expert: int,  # Maximum number of tokens per expert
) -> torch.Tensor:  # [T, N] - Output activations
    """
    Helion kernel implementing MoE matmul with Outer-Gather-Scatter.
    Args:
        A (torch.Tensor): Input activations of shape [T, K].
        W (torch.Tensor): Expert weights of shape [E, K, N].
        expert_token_counts (torch.Tensor): Number of tokens per expert [E].
        expert_token_offsets (torch.Tensor): Starting offsets of tokens per expert [E+1].
        sorted_to_orig_token_idx (torch.Tensor): Maps sorted token indices to original token indices [T].
        max_T_per_expert (int): Maximum number of tokens per expert.
    Returns:
        torch.Tensor: Output activations of shape [T, N].
    """
    T, K = A.shape
    E, _, N = W.shape
    C = torch.zeros(
        T,
        N,
        dtype=torch.promote_types(A.dtype, W.dtype),
        device=A.device,
    )
    for e_idx in hl.grid(E):
        start = expert_token_offsets[e_idx]
        num_tokens = expert_token_counts[e_idx]
        if num_tokens != 0:
            for tile_t, tile_n in hl.tile([max_T_per_expert, N]):
                local_token_offsets = tile_t.index
                token_valid = local_token_offsets < num_tokens
                local_token_offsets_valid = torch.where(
                    token_valid, local_token_offsets, 0
                )
                expert_sorted_token_indices = start + local_token_offsets_valid
                expert_orig_token_indices = sorted_to_orig_token_idx[
                    expert_sorted_token_indices.squeeze(0)
                ]
                acc = hl.zeros([tile_t, tile_n], dtype=torch.float32)
                for tile_k in hl.tile(K):
                    A_frag = A[expert_orig_token_indices, tile_k]
                    W_frag = W[e_idx, tile_k, tile_n]
                    acc = torch.addmm(acc, A_frag, W_frag)
                block_T, block_N = acc.size()
                existing_values = C[expert_orig_token_indices, tile_n]
                mask_2d = token_valid.view(block_T, 1).expand(block_T, block_N)
                C[expert_orig_token_indices, tile_n] = torch.where(
                    mask_2d, acc.to(C.dtype), existing_values
                )
    return C
# fmt: on


def moe_reference(
    A: torch.Tensor,
    W: torch.Tensor,
    counts: torch.Tensor,
    offsets: torch.Tensor,
    sorted_to_orig: torch.Tensor,
    max_t: int,
) -> torch.Tensor:
    out = torch.zeros(A.shape[0], W.shape[2], dtype=A.dtype, device=A.device)
    for e in range(W.shape[0]):
        tokens = sorted_to_orig[int(offsets[e]) : int(offsets[e]) + int(counts[e])].long()
        out[tokens] = A[tokens] @ W[e]
    return out


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    t, k, n, e = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    A = (torch.randn((t, k), generator=generator) * std).to(dtype)
    W = (torch.randn((e, k, n), generator=generator) * std).to(dtype)
    expert = torch.randint(e, (t,), generator=generator)
    # Tokens sorted by expert (stable), per-expert counts and their running offsets.
    sorted_to_orig = torch.argsort(expert, stable=True).to(torch.int32)
    counts = torch.bincount(expert, minlength=e).to(torch.int32)
    offsets = torch.zeros(e + 1, dtype=torch.int32)
    offsets[1:] = counts.cumsum(0)
    return A, W, counts, offsets, sorted_to_orig, int(counts.max())


SPEC = KernelSpec(
    name="ex_moe_matmul_ogs",
    kernel=moe_matmul_ogs,
    reference=moe_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (1000, 500, 200, 30) is the example's own main() shape.
    shapes=[(1000, 500, 200, 30), (4096, 1024, 512, 8)],
    small_shapes=[(24, 32, 16, 4), (13, 20, 24, 5)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [token tile, N tile, K tile].
        "tiles16": helion.Config(block_sizes=[16, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    description="Helion example: MoE matmul, tokens gathered per expert and scattered back",
)
