"""Dense matmul ``C = A @ B`` with fp32 accumulation.

Inputs ``A [M, K]`` and ``B [K, N]`` share one dtype; ``C [M, N]`` comes back in that dtype.
The shape tuple is ``(M, N, K)``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m, k = a.size()
    k2, n = b.size()
    assert k == k2, f"inner dimensions differ: {k} vs {k2}"
    out = torch.empty([m, n], dtype=a.dtype, device=a.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = hl.dot(a[tile_m, tile_k], b[tile_k, tile_n], acc=acc)
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out


def matmul_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products (the tolerance grows with sqrt(K))."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, n, k = shape
    # Entries with standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    a = torch.randn(m, k, generator=generator) * std
    b = torch.randn(k, n, generator=generator) * std
    return a.to(dtype), b.to(dtype)


SPEC = KernelSpec(
    name="matmul",
    kernel=matmul,
    reference=matmul_reference,
    make_inputs=make_inputs,
    shapes=[(4096, 4096, 4096), (1024, 1024, 1024), (1000, 1500, 777)],
    small_shapes=[(16, 16, 16), (32, 48, 40), (5, 17, 33)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # Large square tiles, grouped launch order for L2 reuse, deep pipeline.
        "big_tiles": helion.Config(
            block_sizes=[64, 128, 32],
            l2_groupings=[8],
            loop_orders=[[0, 1]],
            num_warps=8,
            num_stages=3,
        ),
        # Small tiles, N-major launch order, no L2 grouping, shallow pipeline.
        "small_tiles": helion.Config(
            block_sizes=[16, 32, 16],
            l2_groupings=[1],
            loop_orders=[[1, 0]],
            num_warps=2,
            num_stages=2,
        ),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision); fp16/bf16 output rounding
    # and fp32 accumulation over K are the policy's defaults (docs/numerics.md).
    dot_precision={torch.float32: "tf32"},
    reduction_length=reduction_length,
    description="C = A @ B, fp32 accumulation, output in the input dtype",
)
