# Third-party test data: a kernel from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/flex_attention.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `helion_flex_attention_kernel` is copied verbatim (between
# `fmt: off/on`); dropped the `helion_flex_attention` wrapper (make_inputs unpacks the block
# mask as it does), the tritonbench wrapper, `test()` and `main()`; added this header, the
# module docstring, the reference, make_inputs and SPECS.
"""FlexAttention forward (Helion example ``flex_attention``) with PyTorch's empty block mask.

Shape convention: ``(B, H, S, D)``: ``query``, ``key`` and ``value`` are ``[B, H, S, D]``, then
the score_mod callable, the four block-mask tensors of
``torch.nn.attention.flex_attention._create_empty_block_mask`` (one full-length block, no full
blocks), its mask_mod (``noop_mask``) and block sizes, the scale ``1/sqrt(D)`` and
``enable_gqa=False``, as the example's wrapper passes them. Returns ``(out, lse)``: ``out``
``[B, H, S, D]`` in the inputs' dtype, ``lse`` ``[B, H, S]`` fp32, natural log. The example's
main() runs the identity score_mod and a tanh soft cap; one spec each.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import helion
import helion.language as hl
import torch
from torch.nn.attention.flex_attention import _create_empty_block_mask, _identity

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel(autotune_accuracy_check=False, static_shapes=True)
def helion_flex_attention_kernel(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    score_mod: Callable,
    block_mask_kv_num_blocks: torch.Tensor,
    block_mask_kv_indices: torch.Tensor,
    block_mask_full_kv_num_blocks: torch.Tensor | None,
    block_mask_full_kv_indices: torch.Tensor | None,
    block_mask_mask_mod: Callable,
    block_mask_m: int,
    block_mask_n: int,
    scale: float,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    B, H, M, D = query.size()
    D = hl.specialize(D)
    assert key.size() == value.size()
    Bk, Hk, N, Dk = key.size()
    assert Bk == B
    assert Dk == D
    if enable_gqa:
        assert H % Hk == 0
        num_groups = H // Hk
    else:
        assert Hk == H
        num_groups = 1
    out = torch.empty_like(query)
    lse = torch.empty((B, H, M), dtype=torch.float32, device=out.device)
    log_2_e = 1.44269504
    block_m = hl.register_block_size(min(256, block_mask_m))
    block_n = hl.register_block_size(min(256, block_mask_n))
    assert (block_mask_full_kv_indices is None) == (
        block_mask_full_kv_num_blocks is None
    )
    for tile_b, tile_h, tile_m in hl.tile([B, H, M], block_size=[1, 1, block_m]):
        m_i = hl.full([tile_m], float("-inf"), dtype=torch.float32)
        l_i = torch.full_like(m_i, 1.0)
        acc = hl.zeros([tile_m, D], dtype=torch.float32)
        q_i = query[tile_b.begin, tile_h.begin, tile_m, :]

        sparse_row = tile_m.begin // block_mask_m
        b_idx = tile_b.begin
        h_idx = tile_h.begin
        h_kv_idx = h_idx // num_groups
        bcast_b = (tile_b.begin + hl.arange(tile_b.block_size))[:, None]
        bcast_h = (tile_h.begin + hl.arange(tile_h.block_size))[:, None]
        bcast_m = (tile_m.begin + hl.arange(tile_m.block_size))[:, None]

        # iterate through full tiles (no mask needed)
        if block_mask_full_kv_indices is not None:
            sparse_num_blocks = block_mask_full_kv_num_blocks[  # pyrefly: ignore[unsupported-operation]
                b_idx, h_idx, sparse_row
            ]

            for block_idx in hl.tile(sparse_num_blocks, block_size=1):
                start_n = block_mask_full_kv_indices[
                    b_idx, h_idx, sparse_row, block_idx.id
                ]
                end_n = start_n + block_mask_n
                end_N = end_n.new_full([], N)
                end_n = torch.minimum(end_n, end_N)

                for tile_n in hl.tile(start_n, end_n, block_size=block_n):
                    k = key[b_idx, h_kv_idx, tile_n, :]
                    bcast_n = (tile_n.begin + hl.arange(tile_n.block_size))[
                        None, None, None, :
                    ]
                    qk = hl.zeros([tile_m, tile_n], dtype=torch.float32)
                    qk = hl.dot(q_i, k.T, acc=qk)
                    # Apply score_mod (score is in sm_scale space for API compat)
                    qk = qk * scale
                    bcast_qk = qk
                    score = score_mod(bcast_qk, bcast_b, bcast_h, bcast_m, bcast_n)
                    qk = score
                    qk *= log_2_e
                    m_ij = torch.maximum(m_i, torch.amax(qk, -1))
                    qk = qk - m_ij[:, None]
                    p = torch.exp2(qk)
                    l_ij = torch.sum(p, -1)
                    alpha = torch.exp2(m_i - m_ij)
                    m_i = m_ij
                    l_i = l_i * alpha + l_ij
                    acc = acc * alpha[:, None]
                    v = value[b_idx, h_kv_idx, tile_n, :]
                    p = p.to(v.dtype)
                    acc = hl.dot(p, v, acc=acc)

        # iterate through partial tiles (mask needed)
        sparse_num_blocks = block_mask_kv_num_blocks[b_idx, h_idx, sparse_row]

        for block_idx in hl.tile(sparse_num_blocks, block_size=1):
            start_n = block_mask_kv_indices[b_idx, h_idx, sparse_row, block_idx.id]
            end_n = start_n + block_mask_n
            end_N = end_n.new_full([], N)
            end_n = torch.minimum(end_n, end_N)

            for tile_n in hl.tile(start_n, end_n, block_size=block_n):
                k = key[b_idx, h_kv_idx, tile_n, :]
                bcast_n = (tile_n.begin + hl.arange(tile_n.block_size))[
                    None, None, None, :
                ]
                qk = hl.zeros([tile_m, tile_n], dtype=torch.float32)
                qk = hl.dot(q_i, k.T, acc=qk)
                # Apply score_mod and mask
                qk = qk * scale
                bcast_qk = qk
                score = score_mod(bcast_qk, bcast_b, bcast_h, bcast_m, bcast_n)
                mask = block_mask_mask_mod(bcast_b, bcast_h, bcast_m, bcast_n)
                score = torch.where(mask, score, -float("inf"))
                qk = score
                qk *= log_2_e
                m_ij = torch.maximum(m_i, torch.amax(qk, -1))
                qk = qk - m_ij[:, None]
                p = torch.exp2(qk)
                l_ij = torch.sum(p, -1)
                alpha = torch.exp2(m_i - m_ij)
                m_i = m_ij
                l_i = l_i * alpha + l_ij
                acc = acc * alpha[:, None]
                v = value[b_idx, h_kv_idx, tile_n, :]
                p = p.to(v.dtype)
                acc = hl.dot(p, v, acc=acc)

        m_i += torch.log2(l_i) / log_2_e  # Convert back to natural log
        acc = acc / l_i[:, None]
        out[tile_b, tile_h, tile_m, :] = acc[None, None, :, :].to(out.dtype)
        lse[tile_b, tile_h, tile_m] = m_i[None, None, :]
    return out, lse
# fmt: on


def _tanh_score(score: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
    """The example's second score_mod: a tanh soft cap of the scaled score."""
    return torch.tanh(score)


def flex_reference(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    score_mod: Callable[..., torch.Tensor],
    *block_mask_and_options: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    # The empty block mask keeps every key; the score_mods used here ignore their indices.
    scale = block_mask_and_options[-2]
    assert isinstance(scale, float)
    scores = score_mod(query @ key.transpose(-2, -1) * scale, None, None, None, None)
    return torch.softmax(scores, dim=-1) @ value, torch.logsumexp(scores, dim=-1)


def reduction_length(shape: tuple[int, ...]) -> int:
    """The longer of the two sums: P@V over S keys, Q@K^T over D features."""
    return max(shape[2], shape[3])


def _make_inputs(score_mod: Callable[..., torch.Tensor]) -> Callable[..., tuple[object, ...]]:
    def make_inputs(
        shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
    ) -> tuple[object, ...]:
        # Unit normals as in the example's test().
        q, k, v = (torch.randn(shape, generator=generator).to(dtype) for _ in range(3))
        mask = _create_empty_block_mask(q, k)
        return (
            q,
            k,
            v,
            score_mod,
            mask.kv_num_blocks,
            mask.kv_indices,
            mask.full_kv_num_blocks,
            mask.full_kv_indices,
            mask.mask_mod,
            mask.BLOCK_SIZE[0],
            mask.BLOCK_SIZE[1],
            1.0 / math.sqrt(shape[3]),
            False,
        )

    return make_inputs


def _spec(name: str, score_mod: Callable[..., torch.Tensor], full: tuple[int, ...], what: str) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=helion_flex_attention_kernel,
        reference=flex_reference,
        make_inputs=_make_inputs(score_mod),
        reduction_length=reduction_length,
        # The example's main() shapes: (2, 32, 1024, 64) identity, (2, 4, 1024, 64) tanh.
        shapes=[full],
        small_shapes=[(1, 2, 16, 16), (2, 1, 33, 32)],
        dtypes=[torch.float32, torch.float16, torch.bfloat16],
        configs={
            "default": DEFAULT,
            # block_sizes = [block_m, block_n] (the registered query and key tiles).
            "tiles": helion.Config(block_sizes=[32, 16], num_warps=4, num_stages=2),
        },
        # Q@K^T runs on fp32 operands (tf32 on GPUs) for fp32 inputs; P is rounded to the
        # inputs' dtype before the P@V dot (`p = p.to(v.dtype)`).
        dot_precision={
            torch.float32: "tf32",
            torch.float16: "fp16-operand",
            torch.bfloat16: "bf16-operand",
        },
        outputs=[
            Output("out"),
            Output(
                "lse",
                dtype=torch.float32,
                compare=False,
                reason="the example's lse is max*log2(e) + ln(sum) (`m_i += torch.log2(l_i) / "
                "log_2_e` converts only the sum back from base 2), not the natural log-sum-exp "
                "it means: off by max*(log2(e) - 1), 1.25 at a max score of 2.8; compared, "
                "every lse element fails on CPU",
            ),
        ],
        description=f"Helion example: flex attention forward, empty block mask, {what}",
    )


SPECS = [
    _spec("ex_flex_attention", _identity, (2, 32, 1024, 64), "identity score_mod"),
    _spec("ex_flex_attention_tanh", _tanh_score, (2, 4, 1024, 64), "tanh score_mod"),
]
