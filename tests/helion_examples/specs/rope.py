# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/rope.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `rope_fwd` is copied verbatim (between `fmt: off/on`); dropped
# `rope_bwd`, the autograd Function, the tritonbench wrapper and `main()`; the reference is the
# example's `rope_pytorch` with its helper `rotate_half`, copied verbatim; added this header, the
# module docstring, make_inputs and SPEC.
"""Rotary position embedding (Helion example ``rope``), forward, on q and k at once.

Shape convention: ``(B, HQ, HK, T, D)``: ``q`` is ``[B, HQ, T, D]``, ``k`` is ``[B, HK, T, D]``,
``cos`` and ``sin`` are ``[B, T, D]`` (transformers' LLaMA convention: rotate_half pairs ``d``
with ``d + D/2``). The kernel splits and joins the halves with ``hl.split``/``hl.join`` in fp32
and returns ``(q_out, k_out)`` in the input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel
def rope_fwd(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply rotary embeddings to query and key tensors."""
    batch, q_heads, seq_len, head_dim = q.size()
    _, k_heads, _, _ = k.size()
    half_dim = head_dim // 2
    q_out = torch.empty_like(q)
    k_out = torch.empty_like(k)

    for tile_b, tile_t in hl.tile([batch, seq_len]):
        cos_pair = (
            cos[tile_b, tile_t, :]
            .to(torch.float32)
            .reshape([tile_b, tile_t, 2, half_dim])  # pyrefly: ignore [no-matching-overload]
            .permute(0, 1, 3, 2)
        )
        sin_pair = (
            sin[tile_b, tile_t, :]
            .to(torch.float32)
            .reshape([tile_b, tile_t, 2, half_dim])  # pyrefly: ignore [no-matching-overload]
            .permute(0, 1, 3, 2)
        )
        cos_first, cos_second = hl.split(cos_pair)
        sin_first, sin_second = hl.split(sin_pair)

        q_pair = (
            q[tile_b, :, tile_t, :]
            .to(torch.float32)
            .reshape([tile_b, q_heads, tile_t, 2, half_dim])  # pyrefly: ignore [no-matching-overload]
            .permute(0, 1, 2, 4, 3)
        )
        q_first, q_second = hl.split(q_pair)
        q_first_out = (
            q_first * cos_first[:, None, :, :] - q_second * sin_first[:, None, :, :]
        )
        q_second_out = (
            q_second * cos_second[:, None, :, :] + q_first * sin_second[:, None, :, :]
        )
        q_out[tile_b, :, tile_t, :] = (
            hl.join(q_first_out, q_second_out)
            .permute(0, 1, 2, 4, 3)
            .reshape([tile_b, q_heads, tile_t, head_dim])  # pyrefly: ignore [no-matching-overload]
            .to(q_out.dtype)
        )

        k_pair = (
            k[tile_b, :, tile_t, :]
            .to(torch.float32)
            .reshape([tile_b, k_heads, tile_t, 2, half_dim])  # pyrefly: ignore [no-matching-overload]
            .permute(0, 1, 2, 4, 3)
        )
        k_first, k_second = hl.split(k_pair)
        k_first_out = (
            k_first * cos_first[:, None, :, :] - k_second * sin_first[:, None, :, :]
        )
        k_second_out = (
            k_second * cos_second[:, None, :, :] + k_first * sin_second[:, None, :, :]
        )
        k_out[tile_b, :, tile_t, :] = (
            hl.join(k_first_out, k_second_out)
            .permute(0, 1, 2, 4, 3)
            .reshape([tile_b, k_heads, tile_t, head_dim])  # pyrefly: ignore [no-matching-overload]
            .to(k_out.dtype)
        )

    return q_out, k_out


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """PyTorch reference helper matching transformers' LLaMA RoPE convention."""
    half_dim = x.shape[-1] // 2
    return torch.cat((-x[..., half_dim:], x[..., :half_dim]), dim=-1)


def rope_pytorch(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch reference implementation."""
    if cos.dim() == 3:
        cos = cos.unsqueeze(1)
        sin = sin.unsqueeze(1)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
# fmt: on


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    b, hq, hk, t, d = shape
    q = torch.randn((b, hq, t, d), generator=generator)
    k = torch.randn((b, hk, t, d), generator=generator)
    # As the example: random angles, cos and sin rounded to the input dtype.
    angles = torch.randn((b, t, d), generator=generator)
    return q.to(dtype), k.to(dtype), torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


SPEC = KernelSpec(
    name="ex_rope",
    kernel=rope_fwd,
    reference=rope_pytorch,
    make_inputs=make_inputs,
    shapes=[(1, 4, 2, 128, 64), (2, 32, 8, 2048, 128)],
    small_shapes=[(1, 4, 2, 16, 32), (2, 2, 1, 5, 16)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [batch tile, sequence tile]: 1 x 4 positions per program.
        "seq4": helion.Config(block_sizes=[1, 4], num_warps=4),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: RoPE forward on q and k with hl.split / hl.join",
)
