# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/bf16xint16_gemm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `_bf16xint16_gemm` and `_int16xbf16_gemm` are copied
# verbatim (between `fmt: off/on`); dropped the dispatching wrapper `bf16xint16_gemm` (the
# specs name each kernel), the tritonbench wrapper, the reference, `check()` and `main()`;
# added this header, the module docstring, the references, make_inputs and SPECS.
"""bf16 x int16 GEMM (Helion example ``bf16xint16_gemm``): the int16 operand is cast to bf16.

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]``, ``w`` ``[K, N]``; ``_bf16xint16_gemm``
takes bf16 ``x`` and int16 ``w``, ``_int16xbf16_gemm`` int16 ``x`` and bf16 ``w``. Both cast
the int16 tile to bf16 inside the K loop, accumulate in fp32 and return ``[M, N]`` bf16.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True)
def _bf16xint16_gemm(x: Tensor, w: Tensor) -> Tensor:
    """
    x is bf16, w is int16.
    """
    M, K = x.shape
    K2, N = w.shape
    assert K == K2, f"size mismatch {K} != {K2}"

    out = torch.empty([M, N], dtype=torch.bfloat16, device=x.device)

    for tile_m, tile_n in hl.tile([M, N]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(K):
            x_tile = x[tile_m, tile_k]
            w_tile = w[tile_k, tile_n].to(torch.bfloat16)
            acc = hl.dot(x_tile, w_tile, acc=acc)
        out[tile_m, tile_n] = acc.to(torch.bfloat16)

    return out


@helion.kernel(static_shapes=True)
def _int16xbf16_gemm(x: Tensor, w: Tensor) -> Tensor:
    """
    x is int16, w is bf16.
    """
    M, K = x.shape
    K2, N = w.shape
    assert K == K2, f"size mismatch {K} != {K2}"

    out = torch.empty([M, N], dtype=torch.bfloat16, device=x.device)

    for tile_m, tile_n in hl.tile([M, N]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(K):
            x_tile = x[tile_m, tile_k].to(torch.bfloat16)
            w_tile = w[tile_k, tile_n]
            acc = hl.dot(x_tile, w_tile, acc=acc)
        out[tile_m, tile_n] = acc.to(torch.bfloat16)

    return out


# fmt: on


def bf16xint16_reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w.to(x.dtype)


def int16xbf16_reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x.to(w.dtype) @ w


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def _int16(size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    # The example's range: every int16 value but the largest.
    return torch.randint(-(2**15), 2**15 - 1, size, generator=generator, dtype=torch.int16)


def _bf16_scale(k: int) -> float:
    """Std of the bf16 operand that makes outputs O(1) against int16 entries of std ~2**15/sqrt(3).

    The tolerance policy's atol is absolute and assumes O(1) outputs; unit normals against the
    full int16 range give outputs ~1e5, where cancelled sums missed it by three orders.
    """
    return 2.0**-15 * k**-0.5


def make_bf16xint16(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    x = (torch.randn((m, k), generator=generator) * _bf16_scale(k)).to(dtype)
    return x, _int16((k, n), generator)


def make_int16xbf16(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    x = _int16((m, k), generator)
    return x, (torch.randn((k, n), generator=generator) * _bf16_scale(k)).to(dtype)


def _spec(name: str, kernel: object, reference: object, make: object, what: str) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=reference,  # type: ignore[arg-type]
        make_inputs=make,  # type: ignore[arg-type]
        reduction_length=reduction_length,
        # The example's own shapes (main()).
        shapes=[(512, 512, 512), (256, 256, 256), (65536, 1024, 1280)],
        small_shapes=[(16, 32, 16), (24, 40, 33)],
        dtypes=[torch.bfloat16],
        configs={
            "default": DEFAULT,
            # block_sizes = [M, N, K] tiles.
            "tiles": helion.Config(block_sizes=[32, 32, 32], num_warps=4, num_stages=2),
        },
        # The int16 operand is rounded to bf16 inside the kernel (|w| up to 2**15 has more
        # than bf16's 8 significant bits); the reference multiplies the exact integers.
        dot_precision={torch.bfloat16: "bf16-operand"},
        description=f"Helion example: {what} GEMM, int16 operand cast to bf16, bf16 output",
    )


SPECS = [
    _spec("ex_bf16xint16_gemm", _bf16xint16_gemm, bf16xint16_reference, make_bf16xint16, "bf16 x int16"),
    _spec("ex_int16xbf16_gemm", _int16xbf16_gemm, int16xbf16_reference, make_int16xbf16, "int16 x bf16"),
]
