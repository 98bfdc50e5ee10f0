"""Flash-attention forward on float8_e4m3fn ``q``, ``k``, ``v``, output in bf16.

``q``, ``k``, ``v`` are ``[B, H, S, D]`` float8_e4m3fn; the output is ``[B, H, S, D]`` bf16.
The shape tuple is ``(B, H, S, D)``; D must be at least 32 (the K extent of an fp8 tensor-core
dot). ``Q K^T`` is an fp8 x fp8 dot accumulated in fp32, the online softmax (running max,
running sum, rescaling) runs in fp32, and ``P V`` is done in fp16 (P rounded to fp16, V widened
from fp8, which is exact) with fp32 accumulation. Non-causal, no scales.
Config ``block_sizes`` is ``[block_q, block_kv]`` (the batch*head block is fixed at 1).
"""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


@helion.kernel(static_shapes=True)
def fp8_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    batch, heads, seq, head_dim = q.size()
    head_dim = hl.specialize(head_dim)
    q3 = q.reshape(batch * heads, seq, head_dim)
    k3 = k.reshape(batch * heads, seq, head_dim)
    v3 = v.reshape(batch * heads, seq, head_dim)
    out = torch.empty([batch * heads, seq, head_dim], dtype=torch.bfloat16, device=q.device)
    # Scores are kept in the log2 domain (scaled by log2(e)) so the kernel can use exp2.
    qk_scale = 1.4426950408889634 / math.sqrt(head_dim)
    for tile_bh, tile_q in hl.tile([batch * heads, seq], block_size=[1, None]):
        running_max = hl.full([tile_bh, tile_q], float("-inf"), dtype=torch.float32)
        running_sum = hl.zeros([tile_bh, tile_q], dtype=torch.float32)
        acc = hl.zeros([tile_bh, tile_q, head_dim], dtype=torch.float32)
        q_blk = q3[tile_bh, tile_q, :]
        for tile_kv in hl.tile(seq):
            k_blk = k3[tile_bh, tile_kv, :]
            scores = hl.dot(q_blk, k_blk.transpose(1, 2), out_dtype=torch.float32) * qk_scale
            # Keys past ``seq`` (tile padding) get zero weight.
            scores = torch.where(tile_kv.index[None, None, :] < seq, scores, float("-inf"))
            block_max = torch.maximum(running_max, torch.amax(scores, dim=-1))
            probs = torch.exp2(scores - block_max[:, :, None])
            correction = torch.exp2(running_max - block_max)
            running_sum = running_sum * correction + torch.sum(probs, dim=-1)
            v_blk = v3[tile_bh, tile_kv, :].to(torch.float16)
            acc = hl.dot(probs.to(torch.float16), v_blk, acc=acc * correction[:, :, None])
            running_max = block_max
        out[tile_bh, tile_q, :] = (acc / running_sum[:, :, None]).to(torch.bfloat16)
    return out.reshape(batch, heads, seq, head_dim)


def fp8_attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    assert dtype == torch.float8_e4m3fn, dtype
    # Unit-variance values (|x| < ~5) sit well inside e4m3's range (max 448), no scale needed.
    q, k, v = (torch.randn(*shape, generator=generator).to(dtype) for _ in range(3))
    return q, k, v


SPEC = KernelSpec(
    name="fp8_attention",
    kernel=fp8_attention,
    reference=fp8_attention_reference,
    make_inputs=make_inputs,
    shapes=[(4, 48, 128, 64), (4, 48, 512, 64), (4, 48, 1024, 64)],
    small_shapes=[(1, 2, 16, 32), (2, 1, 33, 32), (1, 1, 24, 64)],
    dtypes=[torch.float8_e4m3fn],
    output_dtypes={torch.float8_e4m3fn: torch.bfloat16},
    configs={
        "default": DEFAULT,
        # Wide query tile and key tile, more warps, deeper pipeline.
        "wide_q": helion.Config(block_sizes=[128, 64], num_warps=8, num_stages=3),
        # Small tiles, few warps.
        "narrow": helion.Config(block_sizes=[16, 32], num_warps=2, num_stages=2),
    },
    tolerances={
        torch.float8_e4m3fn: Tolerance(
            2e-2,
            1e-2,
            reason="inputs are exact in the reference, but P is rounded to fp16 for the P@V "
            "dot and the output is bf16 (the Triton interpreter truncates to bf16)",
        ),
    },
    description="fp8 e4m3 flash-attention forward (non-causal), fp32 softmax, bf16 output",
)
