"""Kernels whose named configs fail to compile for sm_90 for real (tests/test_repro.py).

``wide_add``: an elementwise add whose config asks for one 2048x1024 tile, twice Triton's
maximum tensor numel (1048576): ``numel-overflow`` on the full shape, compiled without a GPU.

``causal_attention``: the causal flash-attention forward of kernels/attention.py with its
``wide_q`` config (a 128-query tile) on a 16-query fp16 problem, which crashes Triton 3.6's
TritonGPURemoveLayoutConversions pass for sm_90 (``compiler-crash``, stage ``mlir-pass``); the
bundled spec dropped that config for this reason. Shapes are (B, H, S, D).
"""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch

from checker.spec import GoldenTracking, KernelSpec


@helion.kernel(static_shapes=True)
def wide_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] + y[tile]
    return out


def add_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(shape, generator=gen).to(dtype), torch.randn(shape, generator=gen).to(dtype)


def add_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y


@helion.kernel(static_shapes=True)
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    batch, heads, seq, head_dim = q.size()
    head_dim = hl.specialize(head_dim)
    q3 = q.reshape(batch * heads, seq, head_dim)
    k3 = k.reshape(batch * heads, seq, head_dim)
    v3 = v.reshape(batch * heads, seq, head_dim)
    out = torch.empty_like(q3)
    qk_scale = 1.4426950408889634 / math.sqrt(head_dim)
    for tile_bh, tile_q in hl.tile([batch * heads, seq], block_size=[1, None]):
        row_max = hl.full([tile_bh, tile_q], float("-inf"), dtype=torch.float32)
        row_sum = hl.zeros([tile_bh, tile_q], dtype=torch.float32)
        acc = hl.zeros([tile_bh, tile_q, head_dim], dtype=torch.float32)
        q_blk = q3[tile_bh, tile_q, :]
        for tile_kv in hl.tile(0, tile_q.end):
            k_blk = k3[tile_bh, tile_kv, :]
            scores = hl.dot(q_blk, k_blk.transpose(1, 2)) * qk_scale
            q_pos = tile_q.begin + hl.arange(tile_q.block_size)
            visible = tile_kv.index[None, None, :] <= q_pos[None, :, None]
            scores = torch.where(visible, scores, float("-inf"))
            new_max = torch.maximum(row_max, torch.amax(scores, dim=-1))
            probs = torch.exp2(scores - new_max[:, :, None])
            rescale = torch.exp2(row_max - new_max)
            row_sum = row_sum * rescale + torch.sum(probs, dim=-1)
            acc = acc * rescale[:, :, None]
            acc = hl.dot(probs.to(v3.dtype), v3[tile_bh, tile_kv, :], acc=acc)
            row_max = new_max
        out[tile_bh, tile_q, :] = (acc / row_sum[:, :, None]).to(out.dtype)
    return out.reshape(batch, heads, seq, head_dim)


def attention_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    q, k, v = (torch.randn(*shape, generator=gen).to(dtype) for _ in range(3))
    return q, k, v


def causal_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    seq = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(seq, seq, dtype=torch.bool, device=q.device).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v


_COMMON = dict(golden=GoldenTracking(enabled=False), sample_configs=False)

SPECS = [
    KernelSpec(
        name="wide_add",
        kernel=wide_add,
        reference=add_reference,
        make_inputs=add_inputs,
        shapes=[(2048, 1024)],
        small_shapes=[],
        dtypes=[torch.float32],
        configs={"wide": helion.Config(block_sizes=[2048, 1024], num_warps=4)},
        **_COMMON,  # type: ignore[arg-type]
    ),
    KernelSpec(
        name="causal_attention",
        kernel=causal_attention,
        reference=causal_reference,
        make_inputs=attention_inputs,
        shapes=[],
        small_shapes=[(1, 2, 16, 16)],
        dtypes=[torch.float16],
        configs={"wide_q": helion.Config(block_sizes=[128, 64], num_warps=8, num_stages=3)},
        **_COMMON,  # type: ignore[arg-type]
    ),
]
