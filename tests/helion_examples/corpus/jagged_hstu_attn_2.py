# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_hstu_attn_2.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_hstu_attention` is copied verbatim (between `fmt: off/on`)
# together with the example's reference `reference_jagged_hstu_attention` and its two padding
# helpers, which the kernel's decorator names (`autotune_baseline_fn`); the spec's reference is a
# per-sequence loop written here (same mask: q >= kv); dropped `main()`; make_inputs follows
# `main()` with scaled values (below); added this header, the module docstring and SPEC.
"""Jagged HSTU attention, v2 (Helion example ``jagged_hstu_attn_2``): one program per sequence.

Shape convention: ``(NUM_SEQ, MAX_SEQ_LEN, H, D)``: ``q``, ``k``, ``v`` are ``[total_L, H, D]``,
sequence ``i`` being rows ``seq_offsets[i]:seq_offsets[i + 1]`` (int32 ``[NUM_SEQ + 1]``, lengths
drawn from ``[MAX_SEQ_LEN // 2, MAX_SEQ_LEN]`` as the example's ``main()``). Per sequence and head,
``out[q] = sum_{kv <= q} silu(q . k * alpha) * attn_scale * v[kv]`` with ``alpha = 1 / D**2`` and
``attn_scale = 1 / MAX_SEQ_LEN``; the output is ``[total_L, H, D]`` in the inputs' dtype (fp32
accumulator; the scores are cast to that dtype before the second bmm).

With the example's randn inputs every output is of order 1e-5 (``alpha`` and ``attn_scale`` shrink
the scores; an estimate), below its check's absolute tolerance of 1e-2; ``q`` and ``k`` are
scaled by ``D**0.75`` (scores of order one) and ``v`` by ``sqrt(MAX_SEQ_LEN)`` so outputs are of
order one.
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch
import torch.nn.functional as F

from checker.spec import DEFAULT, KernelSpec


# fmt: off
def _jagged_to_padded(
    values: torch.Tensor,
    offsets: torch.Tensor,
    max_len: int,
) -> torch.Tensor:
    """[L, D] jagged -> [B, max_len, D] padded with zeros."""
    B = offsets.shape[0] - 1
    D = values.shape[1]
    out = values.new_zeros(B, max_len, D)
    for i in range(B):
        s, e = int(offsets[i]), int(offsets[i + 1])
        n = min(e - s, max_len)
        out[i, :n] = values[s : s + n]
    return out


def _padded_to_jagged(
    padded: torch.Tensor,
    offsets: torch.Tensor,
    total_L: int,
) -> torch.Tensor:
    """[B, max_len, D] padded -> [L, D] jagged."""
    D = padded.shape[2]
    out = padded.new_zeros(total_L, D)
    B = offsets.shape[0] - 1
    for i in range(B):
        s, e = int(offsets[i]), int(offsets[i + 1])
        out[s:e] = padded[i, : e - s]
    return out


def reference_jagged_hstu_attention(
    max_seq_len: int,
    alpha: float,
    attn_scale: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_offsets: torch.Tensor,
) -> torch.Tensor:
    """Pad-then-compute reference matching the production HSTU pattern."""
    L, H, D = q.shape

    padded_q = (
        _jagged_to_padded(q.reshape(L, H * D), seq_offsets, max_seq_len)
        .view(-1, max_seq_len, H, D)
        .transpose(1, 2)
    )  # [B, H, N, D]
    padded_k = (
        _jagged_to_padded(k.reshape(L, H * D), seq_offsets, max_seq_len)
        .view(-1, max_seq_len, H, D)
        .transpose(1, 2)
    )  # [B, H, N, D]
    padded_v = (
        _jagged_to_padded(v.reshape(L, H * D), seq_offsets, max_seq_len)
        .view(-1, max_seq_len, H, D)
        .transpose(1, 2)
    )  # [B, H, N, D]

    qk_attn = torch.einsum("bhxa,bhya->bhxy", padded_q, padded_k) * alpha
    qk_attn = F.silu(qk_attn) * attn_scale

    causal_mask = torch.ones(
        max_seq_len, max_seq_len, dtype=torch.bool, device=q.device
    ).tril()
    qk_attn = qk_attn * causal_mask.unsqueeze(0).unsqueeze(0)

    attn_out = torch.einsum("bhxd,bhdv->bhxv", qk_attn.to(v.dtype), padded_v)
    return _padded_to_jagged(
        attn_out.transpose(1, 2).flatten(2, 3),
        seq_offsets,
        L,
    ).view(L, H, D)


# %%
# Kernel
# ------


# %%
@helion.kernel(
    static_shapes=True,
    autotune_baseline_fn=reference_jagged_hstu_attention,
)
def jagged_hstu_attention(
    max_seq_len: int,
    alpha: float,
    attn_scale: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_offsets: torch.Tensor,
) -> torch.Tensor:
    """Jagged HSTU attention forward pass.

    For each sequence defined by ``seq_offsets``, computes causal
    SiLU-gated attention::

        scores = silu(q @ k ^ T * alpha) * attn_scale
        scores = where(causal_mask, scores, 0)
        out = scores @ v
    """
    H = hl.specialize(q.size(1))
    D = hl.specialize(q.size(2))
    num_sequences = seq_offsets.size(0) - 1
    out = torch.empty_like(v)

    for seq_idx in hl.grid(num_sequences):
        start = seq_offsets[seq_idx]
        end = seq_offsets[seq_idx + 1]

        for tile_q in hl.tile(start, end):
            # [tile_q, H, D] -> [H, tile_q, D] for batched matmul
            q_blk = q[tile_q, :, :].transpose(0, 1)
            acc = hl.zeros([H, tile_q, D], dtype=torch.float32)

            for tile_kv in hl.tile(start, end):
                k_blk = k[tile_kv, :, :].transpose(0, 1)  # [H, tile_kv, D]
                v_blk = v[tile_kv, :, :].transpose(0, 1)  # [H, tile_kv, D]

                # [H, tile_q, D] @ [H, D, tile_kv] -> [H, tile_q, tile_kv]
                scores = torch.bmm(q_blk, k_blk.transpose(-2, -1)) * alpha
                scores = F.silu(scores) * attn_scale

                # causal mask: [tile_q, tile_kv] broadcast over H
                causal_mask = tile_q.index.unsqueeze(1) >= tile_kv.index.unsqueeze(0)
                scores = torch.where(causal_mask[None, :, :], scores, 0.0)

                # [H, tile_q, tile_kv] @ [H, tile_kv, D] -> [H, tile_q, D]
                acc = acc + torch.bmm(scores.to(v.dtype), v_blk)

            # [H, tile_q, D] -> [tile_q, H, D]
            out[tile_q, :, :] = acc.transpose(0, 1).to(out.dtype)

    return out


# fmt: on


def hstu_reference(
    max_seq_len: int,
    alpha: float,
    attn_scale: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_offsets: torch.Tensor,
) -> torch.Tensor:
    """Per sequence and head: silu(q k^T * alpha) * attn_scale, lower triangle with diagonal, @ v."""
    out = torch.zeros_like(v)
    for a, b in itertools.pairwise(seq_offsets.tolist()):
        qh, kh, vh = (t[a:b].transpose(0, 1) for t in (q, k, v))  # [H, L, D]
        scores = F.silu(qh @ kh.transpose(1, 2) * alpha) * attn_scale
        out[a:b] = (torch.tril(scores) @ vh).transpose(0, 1)
    return out


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQ_LEN: an output sums up to that many score * v terms (the score dots have D)."""
    return max(shape[1], shape[3])


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[int, float, float, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    num_seq, max_seq_len, h, d = shape
    lengths = torch.randint(
        max_seq_len // 2, max_seq_len + 1, (num_seq,), generator=generator, dtype=torch.int32
    )
    seq_offsets = torch.cat([torch.zeros(1, dtype=torch.int32), torch.cumsum(lengths, dim=0).to(torch.int32)])
    total = int(seq_offsets[-1])
    q = torch.randn((total, h, d), generator=generator) * d**0.75
    k = torch.randn((total, h, d), generator=generator) * d**0.75
    v = torch.randn((total, h, d), generator=generator) * max_seq_len**0.5
    return max_seq_len, 1.0 / d**2, 1.0 / max_seq_len, q.to(dtype), k.to(dtype), v.to(dtype), seq_offsets


SPEC = KernelSpec(
    name="ex_jagged_hstu_attn_2",
    kernel=jagged_hstu_attention,
    reference=hstu_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16, 512, 32, 128) is the example's main() shape.
    shapes=[(16, 512, 32, 128), (64, 1000, 4, 64)],
    small_shapes=[(2, 16, 2, 16), (3, 33, 1, 32)],
    dtypes=[torch.float32, torch.bfloat16],
    # The bmms of fp32 tiles are TF32 on the GPU; the scores are cast to bf16 before scores @ v.
    dot_precision={torch.float32: "tf32", torch.bfloat16: "bf16-operand"},
    configs={
        "default": DEFAULT,
        # block_sizes = [query rows, key rows]: several key tiles per query tile.
        "q16_kv8": helion.Config(block_sizes=[16, 8], num_warps=4),
    },
    description="Helion example: jagged causal SiLU attention (HSTU), one program per sequence",
)
