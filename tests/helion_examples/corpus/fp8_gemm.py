# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/fp8_gemm.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `fp8_gemm` is copied verbatim (between `fmt: off/on`) except its
# decorator: upstream passes `config=config`, a module global that is None unless
# HELION_AUTOTUNE_EFFORT=none picks block_sizes=[32, 32, 32]; here the decorator is
# `@helion.kernel(static_shapes=True)` and that config is the named config `effort_none`.
# HALF_DTYPE (helion._testing's, fp16 on CUDA) is defined below instead of imported. Dropped
# the torch._scaled_mm reference, the tritonbench wrapper, `check()` and `main()`; added this
# header, the module docstring, the reference, make_inputs and SPEC.
"""FP8 GEMM (Helion example ``fp8_gemm``): ``out = x @ y`` on e4m3 inputs, fp16 output.

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]`` e4m3, ``y`` ``[K, N]`` e4m3 stored
column-major (the example's default layout); fp32 accumulation, ``out`` ``[M, N]`` fp16.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec

# helion._testing.HALF_DTYPE on CUDA (bf16 only on TPUs).
HALF_DTYPE = torch.float16


# fmt: off
@helion.kernel(static_shapes=True)
def fp8_gemm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """
    FP8 General Matrix Multiplication (GEMM).
    This kernel demonstrates FP8 computation in Helion.
    When lowered to Triton, the tl.dot operation will handle
    FP8 inputs natively and accumulate to FP32.
    Args:
        x (torch.Tensor): Input tensor of shape [m, k] in FP8 format.
        y (torch.Tensor): Input tensor of shape [k, n] in FP8 format.
    Returns:
        torch.Tensor: Output tensor of shape [m, n] in half-precision format.
    """
    m, k = x.size()
    k2, n = y.size()
    assert k == k2, f"size mismatch {k} != {k2}"
    # Output is in half-precision to match tritonbench behavior
    out = torch.empty([m, n], dtype=HALF_DTYPE, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        # Accumulate in FP32 for accuracy
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            # Load FP8 tiles directly - no conversion needed
            x_tile = x[tile_m, tile_k]
            y_tile = y[tile_k, tile_n]
            # Use hl.dot for FP8 GEMM
            acc = hl.dot(x_tile, y_tile, acc=acc)
        out[tile_m, tile_n] = acc.to(HALF_DTYPE)
    return out
# fmt: on


def fp8_gemm_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x @ y


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K fp8 products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # The example casts unit normals to e4m3; the K**-0.25 factor keeps outputs O(1) for any K.
    std = k**-0.25
    x = (torch.randn((m, k), generator=generator) * std).to(dtype)
    y = (torch.randn((k, n), generator=generator) * std).to(dtype)
    return x, y.T.contiguous().T


SPEC = KernelSpec(
    name="ex_fp8_gemm",
    kernel=fp8_gemm,
    reference=fp8_gemm_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # The example's own shapes (check() at 256, 512 and 1024 cubed).
    shapes=[(1024, 1024, 1024), (256, 256, 256), (512, 512, 512)],
    small_shapes=[(16, 32, 16), (24, 48, 40)],
    dtypes=[torch.float8_e4m3fn],
    output_dtypes={torch.float8_e4m3fn: HALF_DTYPE},
    configs={
        "default": DEFAULT,
        # The example's config under HELION_AUTOTUNE_EFFORT=none (tl.dot wants K >= 32).
        "effort_none": helion.Config(block_sizes=[32, 32, 32]),
    },
    # fp8 operands are exact in the reference; fp8 MMAs on sm_90 accumulate with reduced
    # precision (docs/numerics.md).
    dot_precision={torch.float8_e4m3fn: "fp8-fast-accum"},
    description="Helion example: fp8 e4m3 GEMM, fp32 accumulator, fp16 output",
)
