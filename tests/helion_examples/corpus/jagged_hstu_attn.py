# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_hstu_attn.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `_helion_jagged_attention_kernel` is copied verbatim (between
# `fmt: off/on`); the reference is written here after the example's
# `reference_jagged_hstu_kernel_pytorch`, with one difference: its mask keeps the diagonal
# (`torch.tril(..., diagonal=0)`) while the kernel keeps only q > kv, and the reference here
# follows the kernel (strictly lower triangle; see the module docstring); dropped the
# tritonbench/hammer wrappers, `test()` and `main()`; make_inputs follows `test()` with scaled
# values (below); added this header, the module docstring and SPEC.
"""Jagged HSTU attention (Helion example ``jagged_hstu_attn``): causal SiLU attention, no softmax.

Shape convention: ``(B, MAX_SEQ_LEN, H, D)``: ``q``, ``k``, ``v`` are ``[total_L, H, D]``, sequence
``i`` being rows ``seq_offsets[i]:seq_offsets[i + 1]`` (int32 ``[B + 1]``, lengths drawn from
``[MAX_SEQ_LEN // 2, MAX_SEQ_LEN]`` as the example's ``test()``). Per sequence and head,
``out[q] = sum_{kv < q} silu(q . k * alpha) / MAX_SEQ_LEN * v[kv]`` with ``alpha = 1 / D**2``; the
output is ``[total_L, H, D]`` in the inputs' dtype (fp32 accumulator; the scores are cast to that
dtype before the second matmul).

The kernel's mask is ``q > kv`` (the diagonal is excluded) whereas the example's reference keeps
the diagonal; the example's own check cannot see it because with its randn inputs every output is
of order 1e-5 (``alpha / MAX_SEQ_LEN`` shrink the scores: about sqrt(L) * 3e-7 at its main()
shape, an estimate) and passes ``run_example``'s default absolute tolerance of 1e-1 whatever the
mask. Here ``q`` and ``k`` are scaled by ``D**0.75`` (scores of order one) and
``v`` by ``sqrt(MAX_SEQ_LEN)`` so outputs are of order one, and the reference follows the
kernel's mask.

Known kernel fault (measured on CPU, small shapes): the generated code masks the q/k/v loads and
the output store with ``index < MAX_SEQ_LEN`` only, not ``< seq_len``, so a query tile that runs
past its sequence's end reads and writes the next sequence's rows (writing zeros there, a race
between programs) and, for the last sequence, past the end of ``out``; under the interpreter the
out-of-bounds stores corrupt the heap (``worker-died``, SIGABRT/SIGSEGV) or raise.
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def _helion_jagged_attention_kernel(
    max_seq_len: int,
    alpha: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_offsets: torch.Tensor,
) -> torch.Tensor:
    """Helion implementation of HSTU jagged attention"""
    scale = 1.0 / max_seq_len
    num_heads = hl.specialize(q.size(1))
    num_batches = hl.specialize(seq_offsets.size(0) - 1)
    dimV = hl.specialize(v.size(2))

    out = torch.zeros_like(v)

    # Tile over batch, head, sequence
    for tile_b, tile_h, tile_q in hl.tile(
        [num_batches, num_heads, max_seq_len], block_size=[1, 1, None]
    ):
        starts = seq_offsets[tile_b.begin]
        ends = seq_offsets[tile_b.begin + 1]
        seq_len = ends - starts

        if tile_q.begin < seq_len:
            mask_q = tile_q.index < seq_len
            q_blk = q[tile_q.index + starts, tile_h.begin, :]
            acc = hl.zeros([tile_q, dimV], dtype=torch.float32)

            # Causal attention: only attend to previous tokens
            for tile_kv in hl.tile(0, tile_q.end, block_size=None):
                mask_kv = tile_kv.index < seq_len
                k_blk = k[tile_kv.index + starts, tile_h.begin, :]
                v_blk = v[tile_kv.index + starts, tile_h.begin, :]

                # Compute attention scores with SiLU activation
                scores = (
                    torch.nn.functional.silu(torch.matmul(q_blk, k_blk.T) * alpha)
                    * scale
                )

                # Apply causal mask: only attend to previous positions
                scores = torch.where(
                    (tile_q.index.unsqueeze(1) > tile_kv.index.unsqueeze(0))
                    & mask_q[:, None]
                    & mask_kv[None, :],
                    scores,
                    0.0,
                )

                acc += torch.matmul(scores.to(v.dtype), v_blk)

            # Store result
            out[tile_q.index + starts, tile_h.begin, :] = acc.to(out.dtype)

    return out
# fmt: on


def hstu_reference(
    max_seq_len: int,
    alpha: float,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    seq_offsets: torch.Tensor,
) -> torch.Tensor:
    """Per sequence and head: silu(q k^T * alpha) / max_seq_len, strictly lower triangle, times v."""
    out = torch.zeros_like(v)
    bounds = seq_offsets.tolist()
    for a, b in itertools.pairwise(bounds):
        qh, kh, vh = (t[a:b].transpose(0, 1) for t in (q, k, v))  # [H, L, D]
        scores = torch.nn.functional.silu(qh @ kh.transpose(1, 2) * alpha) / max_seq_len
        scores = torch.tril(scores, diagonal=-1)
        out[a:b] = (scores @ vh).transpose(0, 1)
    return out


def reduction_length(shape: tuple[int, ...]) -> int:
    """MAX_SEQ_LEN: an output sums up to that many score * v terms (the score dots have D)."""
    return max(shape[1], shape[3])


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[int, float, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    b, max_seq_len, h, d = shape
    lengths = torch.randint(max_seq_len // 2, max_seq_len + 1, (b,), generator=generator, dtype=torch.int32)
    seq_offsets = torch.cat([torch.zeros(1, dtype=torch.int32), torch.cumsum(lengths, dim=0).to(torch.int32)])
    total = int(seq_offsets[-1])
    q = torch.randn((total, h, d), generator=generator) * d**0.75
    k = torch.randn((total, h, d), generator=generator) * d**0.75
    v = torch.randn((total, h, d), generator=generator) * max_seq_len**0.5
    return max_seq_len, 1.0 / d**2, q.to(dtype), k.to(dtype), v.to(dtype), seq_offsets


SPEC = KernelSpec(
    name="ex_jagged_hstu_attn",
    kernel=_helion_jagged_attention_kernel,
    reference=hstu_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (1024, 1024, 4, 128) is the example's main() shape.
    shapes=[(1024, 1024, 4, 128), (64, 1000, 2, 64)],
    small_shapes=[(2, 16, 2, 16), (3, 33, 1, 32)],
    dtypes=[torch.float32, torch.bfloat16],
    # q @ k^T of fp32 tiles is TF32 on the GPU; the scores are cast to bf16 before scores @ v.
    dot_precision={torch.float32: "tf32", torch.bfloat16: "bf16-operand"},
    configs={
        "default": DEFAULT,
        # block_sizes = [query rows, key rows]: several key tiles per query tile.
        "q16_kv8": helion.Config(block_sizes=[16, 8], num_warps=4),
    },
    description="Helion example: jagged causal SiLU attention (HSTU)",
)
