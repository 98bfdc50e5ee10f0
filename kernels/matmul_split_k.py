"""Split-K matmul ``C = A @ B``: each program owns one (M tile, N tile, K chunk) triple.

Programs reduce their K chunk in fp32 and ``hl.atomic_add`` the partial tile into an fp32 output
that starts at zero; the host then casts it to the input dtype. ``A [M, K]``, ``B [K, N]``,
``C [M, N]``; the shape tuple is ``(M, N, K)``. Config ``block_sizes`` is
``[k_chunk, block_m, block_n, block_k]``: the K length each program reduces (a registered block
size, so ``cdiv(K, k_chunk)`` programs share every output tile) and the tile sizes.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# The final dtype cast runs on the host, after all atomics have landed; that is intended.
@helion.kernel(static_shapes=True, ignore_warnings=[helion.exc.TensorOperationInWrapper])
def matmul_split_k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m, k = a.size()
    k2, n = b.size()
    assert k == k2, f"inner dimensions differ: {k} vs {k2}"
    partial = torch.zeros([m, n], dtype=torch.float32, device=a.device)
    k_chunk = hl.register_block_size(16, k)
    for tile_m, tile_n, chunk in hl.tile([m, n, k], block_size=[None, None, k_chunk]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(chunk.begin, chunk.end):
            acc = hl.dot(a[tile_m, tile_k], b[tile_k, tile_n], acc=acc)
        hl.atomic_add(partial, [tile_m, tile_n], acc)
    return partial.to(a.dtype)


def matmul_split_k_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products, in chunks added by order-dependent atomics."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, n, k = shape
    # Standard deviation K**-0.25 on both operands keeps each output element O(1) for any K.
    std = k**-0.25
    a = torch.randn(m, k, generator=generator) * std
    b = torch.randn(k, n, generator=generator) * std
    return a.to(dtype), b.to(dtype)


SPEC = KernelSpec(
    name="matmul_split_k",
    kernel=matmul_split_k,
    reference=matmul_split_k_reference,
    make_inputs=make_inputs,
    shapes=[(64, 64, 16384), (256, 256, 8192), (128, 64, 12000)],
    small_shapes=[(16, 16, 256), (8, 24, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # Small output tiles, short K chunks (many atomics per output tile).
        "short_chunks": helion.Config(block_sizes=[64, 16, 16, 32], num_warps=4, num_stages=2),
        # Larger output tiles, long K chunks walked in 64-wide steps.
        "long_chunks": helion.Config(
            block_sizes=[1024, 32, 64, 64], num_warps=8, num_stages=3, l2_groupings=[4]
        ),
    },
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision); the order-dependent fp32
    # atomics are fp32 accumulation over K, which the policy scales by sqrt(K).
    dot_precision={torch.float32: "tf32"},
    reduction_length=reduction_length,
    description="split-K matmul: K chunks per program, fp32 atomic_add, cast to input dtype",
)
