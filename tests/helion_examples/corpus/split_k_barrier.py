# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/split_k_barrier.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `split_k_matmul` is copied verbatim (between `fmt: off/on`);
# dropped `check()` and `main()`; added this header, the module docstring, the reference,
# make_inputs and SPEC.
"""Two-stage split-K matmul with a grid barrier (Helion example ``split_k_barrier``).

Shape convention: ``(M, K, N)``: ``a`` is ``[M, K]``, ``b`` is ``[K, N]`` (a transposed view of
an ``[N, K]`` tensor, as the example passes it); output ``[M, N]`` in a's dtype. Stage 1 writes
one partial product per K chunk (the tunable ``split_k``, a power of two from 16 to 512) into a
``[M, N, split_k]`` scratch tensor, ``hl.barrier()`` waits for the whole grid, stage 2 sums the
partials. fp32 only: the partial accumulator has a's dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from helion.autotuner import PowerOfTwoFragment

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(static_shapes=True, dot_precision="ieee")
def split_k_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """
    Two-stage split-K matmul using hl.barrier().  The barrier approach
    gives deterministic results as opposed to the atomic_add approach.

    Stage 1:
      - Split K into `split_k` contiguous chunks.
      - Each chunk computes a partial [tile_m, tile_n] product into its own slice of `tmp`.

    Barrier:
      - Grid-wide barrier to ensure all partials are written before reduction.

    Stage 2:
      - Reduce partials across the split dimension and write `out`.

    Shapes:
      a: [M, K]
      b: [K, N]
      tmp: [M, N, split_k]
      out: [M, N]

    Notes:
      - Static shapes keep codegen simpler.
      - `split_k` is fixed for clarity; autotuning could choose it instead.
    """
    m, k = a.shape
    _, n = b.shape
    split_k = hl.register_tunable("split_k", PowerOfTwoFragment(16, 512, 64))
    block_k = helion.next_power_of_2(helion.cdiv(k, split_k))
    tmp = torch.zeros((m, n, split_k), device=a.device, dtype=a.dtype)
    out = torch.empty((m, n), device=a.device, dtype=a.dtype)

    for tile_m, tile_n, tile_k_outer in hl.tile(
        [m, n, k], block_size=[None, None, block_k]
    ):
        acc = hl.zeros([tile_m, tile_n], device=a.device, dtype=a.dtype)
        for tile_k_inner in hl.tile(tile_k_outer.begin, tile_k_outer.end):
            acc = torch.addmm(acc, a[tile_m, tile_k_inner], b[tile_k_inner, tile_n])
        # this could be a hl.atomic_add to avoid the barrier, but that would be non-determinstic
        tmp[tile_m, tile_n, tile_k_outer.id] = acc

    hl.barrier()

    for tile_m, tile_n in hl.tile([m, n]):
        out[tile_m, tile_n] = torch.sum(tmp[tile_m, tile_n, :], dim=-1)

    return out

# fmt: on


def matmul_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # Entries of standard deviation K**-0.25 on both sides keep every output element O(1).
    std = k**-0.25
    a = torch.randn((m, k), generator=generator) * std
    b = torch.randn((n, k), generator=generator) * std
    return a.to(dtype), b.to(dtype).T


SPEC = KernelSpec(
    name="ex_split_k_barrier",
    kernel=split_k_matmul,
    reference=matmul_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16, 4096, 16) is the example's own main() shape.
    shapes=[(16, 4096, 16), (64, 8192, 128)],
    small_shapes=[(16, 256, 16), (5, 100, 17)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # 16 K chunks, 16 x 16 tiles in both stages, inner K steps of 16; hl.barrier() needs a
        # persistent pid_type (Helion raises BarrierRequiresPersistent otherwise).
        "split16": helion.Config(
            block_sizes=[16, 16, 16, 16, 16], split_k=16, pid_type="persistent_blocked", num_warps=4
        ),
    },
    description="Helion example: split-K matmul, partials reduced after a grid barrier",
)
