# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/mamba2_chunk_state.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `helion_mamba2_chunk_state_kernel` is copied verbatim (between
# `fmt: off/on`); dropped `ref_chunk_state` (rewritten below), `test()` and `main()`; added
# this header, the module docstring, the reference, make_inputs and SPEC.
# ruff: noqa: RUF059 (the copied kernel unpacks an unused size; it is kept verbatim)
"""Mamba2 chunk state (Helion example ``mamba2_chunk_state``).

Shape convention: ``(batch, nheads, ngroups, seqlen, chunk_size, headdim, dstate)`` with
``seqlen`` a multiple of ``chunk_size`` (the kernel reads ``x`` and ``B`` by chunk without a
sequence mask). Inputs, all in the swept dtype: ``B [batch, seqlen, ngroups, dstate]``,
``x [batch, seqlen, nheads, headdim]``, ``dt`` and ``dA_cumsum``
``[batch, nheads, nchunks, chunk_size]``. Output ``states [batch, nchunks, nheads, headdim,
dstate]``: for each chunk, ``sum_l B[l] * exp(dA_cumsum[-1] - dA_cumsum[l]) * dt[l] * x[l]``
(head h reads group ``h // (nheads // ngroups)`` of B).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def helion_mamba2_chunk_state_kernel(
    B: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, dA_cumsum: torch.Tensor
) -> torch.Tensor:
    """
    Argument:
        B: (batch, seqlen, ngroups, dstate)
        x: (batch, seqlen, nheads, headdim)
        dt: (batch, nheads, nchunks, chunk_size)
        dA_cumsum: (batch, nheads, nchunks, chunk_size)
    Return:
        states: (batch, nchunks, nheads, headdim, dstate)
    """

    batch, seqlen, ngroups, dstate = B.shape
    batch, seqlen, nheads, headdim = x.shape
    batch, nheads, nchunks, chunk_size = dt.shape
    batch, nheads, nchunks, chunk_size = dA_cumsum.shape

    assert nchunks == (seqlen + chunk_size - 1) // chunk_size

    block_m = hl.register_block_size(headdim)
    block_n = hl.register_block_size(dstate)
    block_k = hl.register_block_size(chunk_size)

    assert B.shape == (batch, seqlen, ngroups, dstate)
    assert x.shape == (batch, seqlen, nheads, headdim)
    assert dt.shape == (batch, nheads, nchunks, chunk_size)
    assert dA_cumsum.shape == (batch, nheads, nchunks, chunk_size)

    dtype = B.dtype
    accum_dtype = torch.float32
    assert x.dtype == dt.dtype == dA_cumsum.dtype == dtype

    out = B.new_empty(batch, nchunks, nheads, headdim, dstate)

    p = 1.44269504

    for tile_h, tile_m, tile_n, tile_b, tile_c in hl.tile(
        [nheads, headdim, dstate, batch, nchunks],
        block_size=[1, block_m, block_n, 1, 1],
    ):
        dA_cumsum_last = dA_cumsum[
            tile_b.begin, tile_h.begin, tile_c.begin, chunk_size - 1
        ].to(accum_dtype)
        acc_o = hl.zeros([tile_m, tile_n], dtype=accum_dtype)
        for tile_k in hl.tile(chunk_size, block_size=block_k):
            x_local = x[
                tile_b.begin,
                tile_k.index + tile_c.begin * chunk_size,
                tile_h.begin,
                tile_m,
            ]
            dA_cumsum_local = dA_cumsum[
                tile_b.begin, tile_h.begin, tile_c.begin, tile_k
            ].to(accum_dtype)
            dt_local = dt[tile_b.begin, tile_h.begin, tile_c.begin, tile_k]
            scale = torch.exp2(dA_cumsum_last * p - dA_cumsum_local * p) * dt_local
            xt_local = (x_local.T * scale[None, :]).to(dtype)
            B_local = B[
                tile_b.begin,
                tile_c.begin * chunk_size + tile_k.index,
                tile_h.begin // (nheads // ngroups),
                tile_n,
            ]
            acc_o = hl.dot(xt_local, B_local, acc=acc_o)
        out[tile_b.begin, tile_c.begin, tile_h.begin, tile_m, tile_n] = acc_o.to(dtype)

    return out
# fmt: on


def chunk_state_reference(
    B: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, dA_cumsum: torch.Tensor
) -> torch.Tensor:
    batch, seqlen, nheads, headdim = x.shape
    _, _, nchunks, chunk_size = dt.shape
    ngroups, dstate = B.shape[2], B.shape[3]
    # Each head uses its group's B; split the sequence into chunks.
    b_heads = B.repeat_interleave(nheads // ngroups, dim=2).reshape(
        batch, nchunks, chunk_size, nheads, dstate
    )
    x_chunks = x.reshape(batch, nchunks, chunk_size, nheads, headdim)
    # Weight of position l in its chunk: decay to the chunk's end times dt, [b, h, c, l].
    weight = torch.exp(dA_cumsum[..., -1:] - dA_cumsum) * dt
    return torch.einsum("bclhn,bhcl,bclhp->bchpn", b_heads, weight, x_chunks)


def reduction_length(shape: tuple[int, ...]) -> int:
    """chunk_size: each state element sums over the positions of one chunk."""
    return shape[4]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    batch, nheads, ngroups, seqlen, chunk_size, headdim, dstate = shape
    nchunks = seqlen // chunk_size
    # B and x of standard deviation chunk_size**-0.25 keep each state element of order one.
    std = chunk_size**-0.25
    B = torch.randn((batch, seqlen, ngroups, dstate), generator=generator) * std
    x = torch.randn((batch, seqlen, nheads, headdim), generator=generator) * std
    # dt > 0 (a softplus output in Mamba2); dA_cumsum is the running sum of A * dt with A < 0,
    # so it decreases along the chunk and every decay factor is in (0, 1].
    dt = torch.rand((batch, nheads, nchunks, chunk_size), generator=generator) + 0.5
    dA = -0.1 * torch.rand((batch, nheads, nchunks, chunk_size), generator=generator) * dt
    dA_cumsum = dA.cumsum(-1)
    return B.to(dtype), x.to(dtype), dt.to(dtype), dA_cumsum.to(dtype)


SPEC = KernelSpec(
    name="ex_mamba2_chunk_state",
    kernel=helion_mamba2_chunk_state_kernel,
    reference=chunk_state_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (8, 80, 1, 4096, 256, 64, 128) is the example's own main() shape.
    shapes=[(8, 80, 1, 4096, 256, 64, 128), (2, 8, 2, 1024, 128, 64, 64)],
    small_shapes=[(1, 2, 1, 32, 16, 16, 16), (2, 4, 2, 48, 16, 16, 24)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [headdim tile, dstate tile, chunk step].
        "tiles16": helion.Config(block_sizes=[16, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs; in fp16/bf16 the kernel rounds x * scale to the dtype
    # before the dot (one operand rounded).
    dot_precision={torch.float32: "tf32", torch.float16: "fp16-operand", torch.bfloat16: "bf16-operand"},
    description="Helion example: Mamba2 chunk state",
)
