"""Per-tensor-scaled fp8 GEMM: ``C = (A @ B) * scale_a * scale_b`` with C in bf16.

``a`` is ``[M, K]`` row-major float8_e4m3fn. ``b_t`` holds B transposed, ``[N, K]`` row-major
(that is, B ``[K, N]`` stored column-major, the layout fp8 GEMMs such as ``torch._scaled_mm``
expect). ``scale_a`` and ``scale_b`` are one-element fp32 tensors that dequantize each operand.
The products are accumulated in fp32 by ``hl.dot``; the scaled result is stored as bf16.
The shape tuple is ``(M, N, K)``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec

_FP8_MAX = 448.0  # largest finite float8_e4m3fn


@helion.kernel(static_shapes=True)
def fp8_gemm(
    a: torch.Tensor, b_t: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor
) -> torch.Tensor:
    m, k = a.size()
    n, k2 = b_t.size()
    assert k == k2, f"inner dimensions differ: {k} vs {k2}"
    out = torch.empty([m, n], dtype=torch.bfloat16, device=a.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = hl.dot(a[tile_m, tile_k], b_t[tile_n, tile_k].T, acc=acc)
        out[tile_m, tile_n] = (acc * (scale_a[0] * scale_b[0])).to(torch.bfloat16)
    return out


def fp8_gemm_reference(
    a: torch.Tensor, b_t: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor
) -> torch.Tensor:
    return (a @ b_t.T) * (scale_a[0] * scale_b[0])


def _quantize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tensor quantization to e4m3: returns (x / scale as fp8, scale as a [1] fp32 tensor)."""
    scale = x.abs().amax().clamp_min(1e-12) / _FP8_MAX
    return (x / scale).to(torch.float8_e4m3fn), scale.reshape(1).to(torch.float32)


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K fp8 products."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    assert dtype == torch.float8_e4m3fn, dtype
    m, n, k = shape
    # Standard deviation K**-0.25 per operand keeps the dequantized output O(1) for any K.
    std = k**-0.25
    a, scale_a = _quantize(torch.randn(m, k, generator=generator) * std)
    b_t, scale_b = _quantize(torch.randn(n, k, generator=generator) * std)
    return a, b_t, scale_a, scale_b


SPEC = KernelSpec(
    name="fp8_gemm",
    kernel=fp8_gemm,
    reference=fp8_gemm_reference,
    make_inputs=make_inputs,
    shapes=[(1024, 1024, 1024), (4096, 4096, 4096), (1000, 1500, 784)],
    small_shapes=[(16, 16, 32), (32, 32, 64), (24, 40, 48)],
    dtypes=[torch.float8_e4m3fn],
    output_dtypes={torch.float8_e4m3fn: torch.bfloat16},
    configs={
        "default": DEFAULT,
        # Big tiles with a wide K step (fp8 tensor cores want K >= 32), grouped launch order.
        "big_tiles": helion.Config(
            block_sizes=[128, 128, 64],
            l2_groupings=[8],
            loop_orders=[[0, 1]],
            num_warps=8,
            num_stages=3,
        ),
        # Small tiles, N-major launch order, shallow pipeline.
        "small_tiles": helion.Config(
            block_sizes=[32, 16, 32],
            l2_groupings=[1],
            loop_orders=[[1, 0]],
            num_warps=4,
            num_stages=2,
        ),
    },
    # fp8 operands are exact in the reference; what is left is bf16 output rounding (the
    # default for the bf16 output dtype) and the reduced-precision accumulation of fp8 MMAs
    # on sm_90, scaled by sqrt(K) (docs/numerics.md).
    dot_precision={torch.float8_e4m3fn: "fp8-fast-accum"},
    reduction_length=reduction_length,
    description="fp8 e4m3 GEMM with per-tensor scales, B column-major, fp32 acc, bf16 out",
)
