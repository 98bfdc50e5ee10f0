# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/jagged_dense_bmm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `jagged_dense_bmm` is copied verbatim (between `fmt: off/on`); the
# reference is written here after the example's `jagged_dense_bmm_reference`; dropped
# `random_input` and `main()` (make_inputs draws the same data: lengths in [0, MAX_SEQ_LEN],
# uniform(-1, 1) values); added this header, the module docstring and SPEC.
"""Jagged x dense batched matmul (Helion example ``jagged_dense_bmm``), with a bias.

Shape convention: ``(B, MAX_SEQ_LEN, D, K)``: sequence ``i`` is
``jagged[seq_offsets[i]:seq_offsets[i + 1], :]`` (``jagged`` is ``[L, D]``, lengths drawn from
``[0, MAX_SEQ_LEN]``, so some sequences are empty), multiplied by ``dense[i]`` (``[B, D, K]``) plus
``bias[i]`` (``[B, K]``); ``seq_offsets`` is int64 ``[B + 1]``. The output is ``[L, K]``,
accumulated in the inputs' dtype (fp32 only, as the example).
"""

from __future__ import annotations

import itertools

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def jagged_dense_bmm(
    seq_offsets: torch.Tensor,
    jagged: torch.Tensor,
    dense: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    L, D = jagged.shape
    B, D, K = dense.shape
    dtype = torch.promote_types(jagged.dtype, dense.dtype)
    device = jagged.device

    jagged = jagged.view(-1)  # flattening to [L * D]
    # Allocate output tensor and flatten to 1D
    output = torch.empty((L, K), dtype=dtype, device=device).view(-1)
    for tile_b in hl.tile(B):
        starts = seq_offsets[tile_b]
        ends = seq_offsets[tile_b.index + 1]
        seq_len = ends - starts

        for tile_len in hl.jagged_tile(seq_len):
            jagged_indices = starts[:, None] + tile_len.index[None, :]

            for tile_k in hl.tile(0, K):
                acc = hl.zeros([tile_b, tile_len, tile_k], dtype=dtype, device=device)
                for tile_d in hl.tile(0, D):
                    jagged_data = hl.load(
                        jagged,
                        [jagged_indices[:, :, None] * D + tile_d.index[None, None, :]],
                    )  # [tile_b, tile_len, tile_d]
                    dense_data = dense[tile_b, tile_d, tile_k]

                    acc = acc + torch.matmul(
                        jagged_data, dense_data
                    )  # [tile_b, tile_len, tile_k]

                if bias is not None:
                    bias_data = bias[tile_b, tile_k]  # [tile_b, tile_k]
                    # [tile_b, tile_len, tile_k] + [tile_b, 1, tile_k] -> [tile_b, tile_len, tile_k]
                    acc = acc + bias_data.unsqueeze(1)

                hl.store(
                    output,
                    [jagged_indices[:, :, None] * K + tile_k.index[None, None, :]],
                    acc,
                )
    return output.reshape(L, K)
# fmt: on


def jagged_dense_bmm_reference(
    seq_offsets: torch.Tensor, jagged: torch.Tensor, dense: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Each sequence's rows times its dense matrix, plus its bias row."""
    out = jagged.new_empty((jagged.shape[0], dense.shape[2]))
    bounds = seq_offsets.tolist()
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        out[a:b] = jagged[a:b] @ dense[i] + bias[i]
    return out


def reduction_length(shape: tuple[int, ...]) -> int:
    """D: each output element is a dot product of length D."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    b, max_seq_len, d, k = shape
    lengths = torch.randint(max_seq_len + 1, (b,), generator=generator)
    seq_offsets = torch.zeros(b + 1, dtype=torch.int64)
    seq_offsets[1:] = torch.cumsum(lengths, dim=0)
    jagged = torch.rand((int(seq_offsets[-1]), d), generator=generator) * 2 - 1
    dense = torch.rand((b, d, k), generator=generator) * 2 - 1
    bias = torch.rand((b, k), generator=generator) * 2 - 1
    return seq_offsets, jagged.to(dtype), dense.to(dtype), bias.to(dtype)


SPEC = KernelSpec(
    name="ex_jagged_dense_bmm",
    kernel=jagged_dense_bmm,
    reference=jagged_dense_bmm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (23, 37, 34, 24) is the example's main() shape.
    shapes=[(23, 37, 34, 24), (256, 512, 128, 256)],
    small_shapes=[(3, 5, 16, 16), (4, 9, 34, 24)],
    dtypes=[torch.float32],
    # torch.matmul of fp32 tiles becomes tl.dot, TF32 on the GPU under Helion's default.
    dot_precision={torch.float32: "tf32"},
    configs={
        "default": DEFAULT,
        # block_sizes = [sequences, jagged rows, K, D]: several D steps per output tile.
        "tiles16": helion.Config(block_sizes=[1, 16, 16, 16], num_warps=4),
    },
    description="Helion example: jagged x dense batched matmul with bias",
)
