# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/gather_gemv.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `gather_gemv` is copied verbatim (between `fmt: off/on`); dropped
# the tritonbench wrapper, `check()` and `main()`; added this header, the module docstring, the
# reference (the example's baseline `w[idx].to(x.dtype) @ x`), make_inputs and SPEC.
"""Gather + GEMV (Helion example ``gather_gemv``): ``out[i] = w[idx[i]] @ x``.

Shape convention: ``(B, S, N)``: ``w`` is ``[B, S, S]``, ``idx`` is int32 ``[N]`` with values
in ``[0, B)``, ``x`` is ``[S]``; the output is ``[N, S]`` in ``x``'s dtype, accumulated in fp32
with ``hl.dot`` against a one-column ``x``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(ignore_warnings=[helion.exc.TensorOperationInWrapper])
def gather_gemv(w: Tensor, idx: Tensor, x: Tensor) -> Tensor:
    """
    Performs a gather operation on w using idx, then matrix-vector multiplication with x.

    Args:
        w (Tensor): Weight matrix of shape [B, S, S] where B is batch size, S is sequence length.
        idx (Tensor): Index tensor of shape [N] containing indices to gather from dimension 0 of w.
        x (Tensor): Vector of shape [S] to multiply with the gathered matrices.

    Returns:
        Tensor: Result of shape [N, S] where each row i is w[idx[i]] @ x.
    """
    B, S1, S2 = w.size()
    N = idx.size(0)
    S = x.size(0)
    assert S1 == S2, f"Weight matrix must be square, got {S1} != {S2}"
    assert S == S1, f"Vector size {S} must match matrix size {S1}"

    # Rearrange shapes for matrix-vector multiplication
    w_view = w.contiguous().view(B * S, S).to(x.dtype)  # Shape: [N, S, S]
    x = x.view(S, 1)

    # Create output tensor
    out = torch.empty([N * S, 1], dtype=x.dtype, device=x.device)

    # Perform matrix-vector multiplication for each gathered matrix
    for tile_n_s in hl.tile(N * S):
        acc = hl.zeros([tile_n_s, 1], dtype=torch.float32)
        idx_id = tile_n_s.index // S
        idx_gather = idx[idx_id]
        for tile_k in hl.tile(S):
            # Matrix-vector multiplication
            gathered = w_view[idx_gather * S + tile_n_s.index % S, tile_k]
            acc += hl.dot(gathered, x[tile_k, :])
        out[tile_n_s, :] = acc

    return out.contiguous().view(N, S)
# fmt: on


def gather_gemv_reference(w: Tensor, idx: Tensor, x: Tensor) -> Tensor:
    return w[idx].to(x.dtype) @ x


def reduction_length(shape: tuple[int, ...]) -> int:
    """S: each output element is a dot product of length S."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    b, s, n = shape
    # Standard deviation S**-0.25 on both sides keeps every output element O(1).
    std = s**-0.25
    w = torch.randn((b, s, s), generator=generator) * std
    idx = torch.randint(0, b, (n,), generator=generator, dtype=torch.int32)
    x = torch.randn((s,), generator=generator) * std
    return w.to(dtype), idx, x.to(dtype)


SPEC = KernelSpec(
    name="ex_gather_gemv",
    kernel=gather_gemv,
    reference=gather_gemv_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (8, 2048, 2) and (8, 8192, 2): two of the example's sizes (B = 8 experts, N = 2 picked).
    shapes=[(8, 2048, 2), (8, 8192, 2)],
    small_shapes=[(4, 32, 2), (3, 48, 5)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [N*S output rows, S chunk of the dot].
        "tiles": helion.Config(block_sizes=[16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: gather matrices by index, then matrix-vector products",
)
