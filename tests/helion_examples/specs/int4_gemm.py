# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/int4_gemm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `matmul_bf16_int4` is copied verbatim (between `fmt: off/on`);
# dropped the TritonBench wrapper, the pack/unpack helpers (rewritten below), `check()` and
# `main()`; added this header, the module docstring, the reference, make_inputs and SPEC.
"""bf16 x int4 GEMM (Helion example ``int4_gemm``): ``C = A @ unpack(B)``, B holding two int4
values per int8 byte (low nibble: row 2k, high nibble: row 2k + 1 of the unpacked [K, N]).

Shape convention: ``(M, K, N)``: ``A`` is ``[M, K]`` bf16, ``B`` is ``[K // 2, N]`` int8 (K even);
fp32 accumulation, output ``[M, N]`` bf16. The kernel loads A's K range without a K mask: when
K is not a multiple of twice the K block, the last block reads past the end of A's rows (into
the next row, and after the last row past A's end) and multiplies those values by B rows masked
to 0, so the result is right while the bytes there are finite (docs/numerics.md, "Loads outside
the launch's tensors").
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=False)
def matmul_bf16_int4(A: Tensor, B: Tensor) -> Tensor:
    """
    BFloat16 x INT4 General Matrix Multiplication (GEMM).

    This kernel performs matrix multiplication where:
    - A is a bfloat16 matrix of shape [M, K]
    - B is an int8 matrix of shape [K//2, N] containing packed int4 values
      (two 4-bit values packed into each int8)

    Args:
        A (Tensor): Input tensor of shape [M, K] in bfloat16 format.
        B (Tensor): Packed int4 tensor of shape [K//2, N] in int8 format.

    Returns:
        Tensor: Output tensor of shape [M, N] in bfloat16 format.
    """
    M, K = A.shape
    _, N = B.shape

    C = torch.zeros(M, N, dtype=torch.bfloat16, device=A.device)
    block_size_k_packed = hl.register_block_size(K // 2)

    # Use Helion to tile the computation
    for tile_m, tile_n in hl.tile([M, N]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)

        for tile_k_packed in hl.tile(K // 2, block_size=block_size_k_packed):
            # Load corresponding tiles from A (need to load twice the packed tile size).
            # We map tile_k_packed to the corresponding (factor-2 widened) range in A.
            # This affine-widened slice is lowered as an affine ``hl.arange()`` index and,
            # on the CuTe backend, is consumed by the packed-affine matmul load fusion
            # below (the affine A load feeds directly into ``hl.dot``).
            a_tile_begin = tile_k_packed.begin * 2
            a_tile_len = block_size_k_packed * 2
            a_tile = A[
                tile_m, a_tile_begin : (a_tile_begin + a_tile_len)
            ]  # [BLOCK_SIZE_M, BLOCK_SIZE_K]

            # Load packed int8 data from B
            b_tile = B[tile_k_packed, tile_n]  # [BLOCK_SIZE_K//2, BLOCK_SIZE_N]

            # Extract low and high 4-bit values with sign extension.
            # The low nibble is sign-extended arithmetically (mask to 4 bits, then
            # subtract 16 when the sign bit is set) rather than via ``(x << 4) >> 4``;
            # the explicit arithmetic form is portable across backends and avoids
            # relying on narrow-int (int8) shift truncation semantics.
            b_lo_raw = (b_tile & 0xF).to(torch.int32)
            b_lo = torch.where(b_lo_raw >= 8, b_lo_raw - 16, b_lo_raw)  # low 4 bits
            b_hi = (b_tile >> 4).to(torch.int32)  # high 4 bits (arithmetic >>)

            # Stack and reshape to interleave low and high bits.
            # Stack along a new dimension to get [BLOCK_SIZE_K//2, 2, BLOCK_SIZE_N],
            # then reshape to interleave into [BLOCK_SIZE_K, BLOCK_SIZE_N] in the order
            # b_lo[0], b_hi[0], b_lo[1], b_hi[1], ..., matching the A[2*kp]/A[2*kp+1] pairs.
            b_stacked = torch.stack([b_lo.to(A.dtype), b_hi.to(A.dtype)], dim=1)
            b_unpacked = b_stacked.reshape(
                tile_k_packed.block_size * 2, tile_n.block_size
            )

            # Matmul over the widened K dimension.  Using ``hl.dot`` lets the affine
            # A load and the interleaved B unpack fuse into a single packed-affine
            # matmul (the supported lowering for factor-widened affine loads).
            acc = hl.dot(a_tile, b_unpacked, acc=acc)  # [BLOCK_SIZE_M, BLOCK_SIZE_N]

        C[tile_m, tile_n] = acc.to(torch.bfloat16)

    return C
# fmt: on


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """``[K // 2, N]`` int8 -> ``[K, N]`` int8 in [-8, 7]: row 2k from the low nibble (sign bit
    3), row 2k + 1 from the high nibble (arithmetic shift)."""
    low = torch.bitwise_right_shift(torch.bitwise_left_shift(packed, 4), 4)
    high = torch.bitwise_right_shift(packed, 4)
    return torch.stack([low, high], dim=1).reshape(packed.shape[0] * 2, packed.shape[1])


def int4_gemm_reference(a: torch.Tensor, b_packed: torch.Tensor) -> torch.Tensor:
    # Products of bf16 and int4 values and their sums over K are exact or nearly so in fp32.
    return (a.float() @ unpack_int4(b_packed).float()).to(a.dtype)


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # Entries of standard deviation K**-0.5 in A and int4 values in [-8, 7] (std ~4.6) in B:
    # outputs of order a few units, as in the example's check() up to the scale.
    a = (torch.randn((m, k), generator=generator) * k**-0.5).to(dtype)
    unpacked = torch.randint(-8, 8, (k, n), generator=generator, dtype=torch.int8)
    pairs = unpacked.reshape(k // 2, 2, n)
    packed = ((pairs[:, 0] & 0xF) | (pairs[:, 1] << 4)).to(torch.int8)
    return a, packed


SPEC = KernelSpec(
    name="ex_int4_gemm",
    kernel=matmul_bf16_int4,
    reference=int4_gemm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (4, 8192, 7168) and (8192, 8192, 8192) are the example's own check() shapes.
    shapes=[(4, 8192, 7168), (8192, 8192, 8192)],
    # (5, 34, 7): K = 34 is not a multiple of the default K block's 32, the case of issue 28.
    small_shapes=[(16, 64, 32), (5, 34, 7)],
    dtypes=[torch.bfloat16],
    configs={"default": DEFAULT},
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: bf16 x packed-int4 GEMM, nibbles unpacked in the kernel",
)
