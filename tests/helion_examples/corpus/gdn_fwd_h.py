# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/gdn_fwd_h.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `helion_gdn_fwd_h` is copied verbatim (between `fmt: off/on`);
# dropped the tritonbench wrapper, `ref_gdn_fwd_h` (rewritten below without its intermediate
# casts: the checker's reference runs in float64), `test()` and `main()`; added this header,
# the module docstring, the reference, make_inputs (the example's input recipe) and SPEC.
"""Gated delta net forward state pass (Helion example ``gdn_fwd_h``).

Shape convention: ``(B, H, T, C, K, V)``: batch, heads, sequence length, chunk size, head dim
and state dim. ``k`` and ``w`` are ``[B, T, H, K]``, ``u`` ``[B, T, H, V]`` in the swept dtype,
``g`` ``[B, T, H]`` fp32 cumulative log-gates, then the int ``chunk_size`` C (T a multiple of
C and V of K, as the example's reference requires). The kernel returns the state entering
each chunk, ``h`` ``[B, T / C, H, K, V]`` in the swept dtype:
``S_0 = 0``, ``S_{i+1} = exp(g_last) S_i + k_i^T ((u_i - w_i S_i) * exp(g_last - g_i))``.
"""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def helion_gdn_fwd_h(
    k: torch.Tensor, w: torch.Tensor, u: torch.Tensor, g: torch.Tensor, chunk_size: int
) -> torch.Tensor:
    """
    Argument:
        k: (batch, seqlen, nheads, dhead)
        w: (batch, seqlen, nheads, dhead)
        u: (batch, seqlen, nheads, expand_v*dhead)
        g: (batch, seqlen, nheads)
        chunk_size: int
    Return:
        h: (batch, nchunks, nheads, dhead, expand_v*dhead)
    """

    batch, seqlen, nheads, dhead = k.shape
    dhead = hl.specialize(dhead)
    chunk_size = hl.specialize(chunk_size)
    dstate = u.shape[-1]

    acc_dtype = torch.float32
    dtype = k.dtype

    nchunks = (seqlen + chunk_size - 1) // chunk_size
    h = torch.empty(batch, nchunks, nheads, dhead, dstate, dtype=dtype, device=k.device)
    block_v = hl.register_block_size(dstate)

    for tile_b, tile_h, tile_v in hl.tile(
        [batch, nheads, dstate], block_size=[1, 1, block_v]
    ):
        i_b = tile_b.id
        i_h = tile_h.id
        b_h = hl.zeros([dhead, tile_v], dtype=acc_dtype)
        for t_i in hl.tile(seqlen, block_size=chunk_size):
            h[i_b, t_i.id, i_h, :, tile_v] = b_h.to(dtype)
            b_w = w[i_b, t_i, i_h, :]
            c_h = b_h.to(dtype)
            b_v = hl.dot(b_w, c_h, out_dtype=acc_dtype)
            p_v = u[i_b, t_i, i_h, tile_v].to(acc_dtype)
            b_v = p_v - b_v
            m_t = t_i.index < seqlen
            t_i_last = min(t_i.begin + chunk_size, seqlen) - 1
            b_g_last = g[i_b, t_i_last, i_h].to(acc_dtype)
            b_g = g[i_b, t_i, i_h].to(acc_dtype)
            b_v *= torch.where(m_t, torch.exp(b_g_last - b_g), 0)[:, None]
            b_g_last = torch.exp(b_g_last)
            b_h *= b_g_last
            b_v = b_v.to(dtype)
            p_k = k[i_b, t_i, i_h, :]
            b_h = hl.dot(p_k.T, b_v, acc=b_h)
    return h
# fmt: on


def gdn_fwd_h_reference(
    k: torch.Tensor, w: torch.Tensor, u: torch.Tensor, g: torch.Tensor, chunk_size: int
) -> torch.Tensor:
    batch, seqlen, nheads, dhead = k.shape
    nchunks = -(-seqlen // chunk_size)
    state = k.new_zeros((batch, nheads, dhead, u.shape[-1]))
    states = []
    for lo in range(0, seqlen, chunk_size):
        hi = min(lo + chunk_size, seqlen)
        states.append(state)
        g_last = g[:, hi - 1]  # [B, H]
        v_new = u[:, lo:hi] - torch.einsum("bchk,bhkv->bchv", w[:, lo:hi], state)
        v_new = v_new * torch.exp(g_last[:, None] - g[:, lo:hi])[..., None]
        decayed = state * torch.exp(g_last)[..., None, None]
        state = decayed + torch.einsum("bchk,bchv->bhkv", k[:, lo:hi], v_new)
    assert len(states) == nchunks
    return torch.stack(states, dim=1)


def reduction_length(shape: tuple[int, ...]) -> int:
    """C: each state update sums C products (earlier chunks enter through decayed states)."""
    return shape[3]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    batch, nheads, seqlen, chunk, dhead, dstate = shape
    # The example's test(): RMS-normalized k and u, w with orthonormal rows per chunk (U V^T
    # of a Gaussian matrix), g a running sum of log-gates in [0.5 log(1/K), 0].
    k = torch.randn((batch, seqlen, nheads, dhead), generator=generator)
    k = torch.nn.functional.rms_norm(k, [dhead])
    w = torch.randn((batch, seqlen // chunk, nheads, chunk, dhead), generator=generator)
    wu, _, wv = torch.linalg.svd(w, full_matrices=False)
    w = (wu @ wv).permute(0, 1, 3, 2, 4).reshape(batch, seqlen, nheads, dhead)
    u = torch.randn((batch, seqlen, nheads, dstate), generator=generator)
    u = torch.nn.functional.rms_norm(u, [dstate])
    gates = torch.rand((batch, seqlen, nheads), generator=generator)
    g = torch.cumsum(0.5 * math.log(1 / dhead) * gates, dim=1)
    return k.to(dtype), w.to(dtype), u.to(dtype), g, chunk


SPEC = KernelSpec(
    name="ex_gdn_fwd_h",
    kernel=helion_gdn_fwd_h,
    reference=gdn_fwd_h_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (8, 80, 4096, 256, 64, 128) is the example's own shape (main()).
    shapes=[(8, 80, 4096, 256, 64, 128), (2, 16, 2048, 64, 128, 128)],
    small_shapes=[(1, 2, 64, 16, 16, 32), (2, 1, 48, 16, 32, 32)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [block_v] (the state-dim tile; the chunk loop's size is chunk_size).
        "block_v32": helion.Config(block_sizes=[32], num_warps=4, num_stages=2),
    },
    # The kernel rounds the state to the input dtype before the w@S dot and the gated values
    # before the k^T@v dot (one rounded operand each); fp32 dots run as tf32 on GPUs.
    dot_precision={
        torch.float32: "tf32",
        torch.float16: "fp16-operand",
        torch.bfloat16: "bf16-operand",
    },
    description="Helion example: gated delta net forward, per-chunk recurrent states",
)
