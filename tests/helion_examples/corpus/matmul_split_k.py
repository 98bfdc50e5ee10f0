# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/matmul_split_k.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `matmul_split_k` is copied verbatim (between `fmt: off/on`);
# dropped `check()`, the tritonbench wrapper and `main()`; added this header, the module
# docstring, the reference, make_inputs and SPEC. The kernel runs with its default (identity)
# epilogue.
"""Split-K matmul (Helion example ``matmul_split_k``): ``out = x @ y``.

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]``, ``y`` is ``[K, N]``; output ``[M, N]`` in
the inputs' dtype. The tunable ``split_k`` (a power of two, 1 to 256) cuts K into chunks of
``next_power_of_2(cdiv(K, split_k))``; each program reduces its chunk in fp32 and
``hl.atomic_add``s it into the zeroed output, in the output's dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import helion
import helion.language as hl
import torch
from helion.autotuner import PowerOfTwoFragment

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel(static_shapes=True)
def matmul_split_k(
    x: torch.Tensor,
    y: torch.Tensor,
    epilogue: Callable[
        [torch.Tensor, tuple[torch.Tensor, ...]], torch.Tensor
    ] = lambda acc, tile: acc,
) -> torch.Tensor:
    """
    Matrix multiplication kernel using split-K parallelism.
    This kernel splits the reduction (K) dimension into multiple fragments to improve
    parallelism and performance, especially for large K. The results from each split
    are accumulated atomically into the output tensor. An optional epilogue function
    can be applied to the accumulator, e.g., for adding bias.
    Args:
        x (torch.Tensor): Left input matrix of shape [m, k].
        y (torch.Tensor): Right input matrix of shape [k, n].
        epilogue (Callable, optional): Function applied to the accumulator and tile indices
            after the matmul. Defaults to identity (no change).
    Returns:
        torch.Tensor: Resulting matrix of shape [m, n].
    """
    m, k = x.size()
    k2, n = y.size()
    assert k == k2, f"size mismatch {k} != {k2}"
    out = torch.zeros(
        [m, n], dtype=torch.promote_types(x.dtype, y.dtype), device=x.device
    )
    split_k = hl.register_tunable("split_k", PowerOfTwoFragment(1, 256))
    k_block = helion.next_power_of_2(helion.cdiv(k, split_k))
    for tile_m, tile_n, outer_k in hl.tile([m, n, k], block_size=[None, None, k_block]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for inner_k in hl.tile(outer_k.begin, outer_k.end):
            acc = torch.addmm(acc, x[tile_m, inner_k], y[inner_k, tile_n])
        # Apply epilogue only on the first k-split iteration
        if outer_k.begin == 0:
            acc = epilogue(acc, (tile_m, tile_n))
        hl.atomic_add(out, [tile_m, tile_n], acc)
    return out
# fmt: on


def matmul_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x @ y


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    x = torch.randn((m, k), generator=generator) * std
    y = torch.randn((k, n), generator=generator) * std
    return x.to(dtype), y.to(dtype)


# The atomics add the fp32 partials into the fp16/bf16 output: up to P = split_k <= 256 partial
# sums, each add rounded to the output dtype. The policy's term for that (CONFIDENCE *
# sqrt(P) * u, docs/numerics.md) at the largest P: 4 * 16 * u.
_HALF_TOLERANCES = {
    torch.float16: Tolerance(
        3.2e-2,
        3.2e-2,
        reason="atomic_add accumulates up to 256 split-K partials in the fp16 output: 4 * sqrt(256) * 2^-11",
    ),
    torch.bfloat16: Tolerance(
        0.25,
        0.25,
        reason="atomic_add accumulates up to 256 split-K partials in the bf16 output: 4 * sqrt(256) * 2^-8",
    ),
}

SPEC = KernelSpec(
    name="ex_matmul_split_k",
    kernel=matmul_split_k,
    reference=matmul_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (64, 32768, 64) is the example's own main() shape.
    shapes=[(64, 32768, 64), (256, 8192, 256)],
    small_shapes=[(16, 256, 16), (8, 100, 24)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # 4 K chunks, 16 x 16 output tiles, inner K steps of 16.
        "split4": helion.Config(block_sizes=[16, 16, 16], split_k=4, num_warps=4),
    },
    tolerances=_HALF_TOLERANCES,
    # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
    dot_precision={torch.float32: "tf32"},
    description="Helion example: split-K matmul, atomics into the output dtype",
)
