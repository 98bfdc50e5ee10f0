# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/fp8_matmul.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `fp8_matmul` is copied verbatim (between `fmt: off/on`); dropped
# the torch._scaled_mm reference, the tritonbench wrapper, `check()` and `main()`; added this
# header, the module docstring, the reference, make_inputs and SPEC.
"""FP8 row-wise scaled matmul (Helion example ``fp8_matmul``), bf16 output.

``out[m, n] = scale_a[m] * scale_b[n] * sum_k x[m, k] * y[k, n]``. Shape convention:
``(M, K, N)``: ``x`` is ``[M, K]`` e4m3, ``y`` ``[K, N]`` e4m3 column-major, ``scale_a2d``
an ``[M, N]`` fp32 view of per-row scales (stride (1, 0), as the example builds it),
``scale_b1d`` ``[N]`` fp32; ``out`` is ``[M, N]`` bf16.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True)
def fp8_matmul(
    x: torch.Tensor,
    y: torch.Tensor,
    scale_a2d: torch.Tensor,
    scale_b1d: torch.Tensor,
) -> torch.Tensor:
    """FP8 RowWise scaled_mm: ``out = scale_a[m] * scale_b[n] * (x @ y)`` in BF16.

    Args:
        x: Left input [m, k] in FP8 (e4m3), row-major.
        y: Right input [k, n] in FP8 (e4m3), column-major (K-contiguous) preferred.
        scale_a2d: Per-row scale as a ``(m, n)`` stride-(1,0) column-vector view.
        scale_b1d: Per-column scale as a rank-1 ``(n,)`` row vector.

    Returns:
        Output [m, n] in BF16.
    """
    m, k = x.size()
    k2, n = y.size()
    assert k == k2, f"size mismatch {k} != {k2}"
    out = torch.empty([m, n], dtype=torch.bfloat16, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = hl.dot(x[tile_m, tile_k], y[tile_k, tile_n], acc=acc)
        # Fold the rowwise scale on the f32 accumulator before the bf16 cast.
        out[tile_m, tile_n] = (acc * scale_a2d[tile_m, tile_n] * scale_b1d[tile_n]).to(
            torch.bfloat16
        )
    return out
# fmt: on


def fp8_matmul_reference(
    x: torch.Tensor, y: torch.Tensor, scale_a2d: torch.Tensor, scale_b1d: torch.Tensor
) -> torch.Tensor:
    return (x @ y) * scale_a2d * scale_b1d


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K fp8 products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # As the example's check(): normals times 0.4 in e4m3 (the K**-0.25 factor keeps outputs
    # O(1) for any K), scales uniform in [0.5, 1.5).
    std = 0.4 * k**-0.25
    x = (torch.randn((m, k), generator=generator) * std).to(dtype)
    y = (torch.randn((k, n), generator=generator) * std).to(dtype).T.contiguous().T
    scale_a = torch.rand((m, 1), generator=generator) + 0.5
    scale_b = torch.rand((n,), generator=generator) + 0.5
    return x, y, scale_a.expand(m, n), scale_b


SPEC = KernelSpec(
    name="ex_fp8_matmul",
    kernel=fp8_matmul,
    reference=fp8_matmul_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (64, 2048, 2048) is the example's own shape (main()).
    shapes=[(64, 2048, 2048), (1024, 4096, 1024)],
    small_shapes=[(16, 32, 16), (24, 48, 40)],
    dtypes=[torch.float8_e4m3fn],
    output_dtypes={torch.float8_e4m3fn: torch.bfloat16},
    configs={
        "default": DEFAULT,
        # Tiles of 32 on every axis (tl.dot on fp8 wants K >= 32).
        "tiles32": helion.Config(block_sizes=[32, 32, 32], num_warps=4),
    },
    # fp8 operands are exact in the reference; fp8 MMAs on sm_90 accumulate with reduced
    # precision (docs/numerics.md).
    dot_precision={torch.float8_e4m3fn: "fp8-fast-accum"},
    description="Helion example: fp8 e4m3 matmul with row/column scales, bf16 output",
)
