# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/embedding.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `embedding` is copied verbatim (between `fmt: off/on`); dropped
# the tritonbench wrapper and `main()`; added this header, the module docstring, the
# reference, make_inputs and SPEC.
"""Embedding lookup (Helion example ``embedding``): ``out[b, s] = weight[x[b, s]]``.

Shape convention: ``(B, S, V, D)``: ``x`` is ``[B, S]`` int32 indices into ``weight``
``[V, D]``; the output is ``[B, S, D]`` in ``weight``'s dtype. A gather: compared exactly.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel()
def embedding(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """
    Performs embedding lookup for input indices.

    Maps indices in the input tensor to vectors from the embedding weight matrix.

    Args:
        x: Input tensor of indices of any shape
        weight: Embedding weight matrix of shape [num_embeddings, embedding_dim]

    Returns:
        Output tensor of shape [*x.shape, embedding_dim] containing the embedding vectors
    """
    x_flat = x.reshape(-1)  # collapse x into a single dimension
    _, embedding_dim = weight.size()
    out = torch.empty(
        [x_flat.size(0), embedding_dim], dtype=weight.dtype, device=weight.device
    )
    for tile_b, tile_e in hl.tile([x_flat.size(0), embedding_dim]):
        out[tile_b, tile_e] = weight[x_flat[tile_b], tile_e]
    # restore the original shape
    return out.view(*x.size(), embedding_dim)
# fmt: on


def embedding_reference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.embedding(x, weight)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    b, s, v, d = shape
    # int32 indices as in the example's main().
    x = torch.randint(0, v, (b, s), generator=generator, dtype=torch.int32)
    weight = torch.randn((v, d), generator=generator)
    return x, weight.to(dtype)


_EXACT = "a gather copies table entries: any difference is a wrong index or a lost element"

SPEC = KernelSpec(
    name="ex_embedding",
    kernel=embedding,
    reference=embedding_reference,
    make_inputs=make_inputs,
    # (256, 32, 16, 64) is the example's own shape; the second a 32k-token, 32k-row table.
    shapes=[(256, 32, 16, 64), (8, 4096, 32000, 1024)],
    small_shapes=[(2, 8, 50, 64), (3, 5, 7, 33)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One token per program, a 256-wide strip of its row.
        "token_strip": helion.Config(block_sizes=[1, 256], num_warps=4),
    },
    tolerances={
        dt: Tolerance(0.0, 0.0, reason=_EXACT) for dt in (torch.float32, torch.float16, torch.bfloat16)
    },
    description="Helion example: embedding lookup of int32 indices into a [V, D] table",
)
