"""Embedding lookup: ``out[b, s, :] = weight[indices[b, s], :]``.

Shape convention: ``(B, S, V, D)``: ``indices`` is int64 ``[B, S]`` with values in ``[0, V)`` and
``weight`` is ``[V, D]``; the output is ``[B, S, D]`` in the weight's dtype. The lookup is a pure
copy, so the result must match the reference exactly.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def embedding(weight: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    b, s = indices.size()
    d = weight.size(1)
    flat_indices = indices.view(-1)
    out = torch.empty([b * s, d], dtype=weight.dtype, device=weight.device)
    for tokens, cols in hl.tile([b * s, d]):
        out[tokens, cols] = weight[flat_indices[tokens], cols]
    return out.view(b, s, d)


def embedding_reference(weight: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.embedding(indices, weight)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    b, s, v, d = shape
    weight = torch.randn((v, d), generator=generator, dtype=torch.float32)
    indices = torch.randint(0, v, (b, s), generator=generator, dtype=torch.int64)
    return weight.to(dtype), indices


SPEC = KernelSpec(
    name="embedding",
    kernel=embedding,
    reference=embedding_reference,
    make_inputs=make_inputs,
    shapes=[(8, 512, 32000, 1024), (3, 777, 50257, 768)],
    small_shapes=[(2, 8, 50, 64), (3, 5, 7, 33), (1, 1, 3, 8)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One token per program, a 256-wide strip of the row, 4 warps.
        "token_strip": helion.Config(block_sizes=[1, 256], num_warps=4),
        # 16 tokens x 64 columns per program, 2 warps.
        "token_block": helion.Config(block_sizes=[16, 64], num_warps=2),
    },
    description="embedding lookup of int64 token ids into a [V, D] table",
)
