# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/long_sum.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the three @helion.kernel functions `longsum`, `longsum_w_red_loop` and
# `longsum_manual` are copied verbatim (between `fmt: off/on`), each with the config the example
# pins in its decorator; dropped `baseline_sum`'s wrapper, `check()` and `main()`; added this
# header, the module docstring, the reference, make_inputs and the SPECS.
"""Long row sums (Helion example ``long_sum``): ``out[i] = sum(x[i, :])`` over a long last dim.

Shape convention: ``(M, N)`` is the shape of ``x``; the output is ``[M]`` in ``x``'s dtype. Three
kernels: whole row in registers (``longsum``), Helion's reduction loop (``longsum_w_red_loop``)
and a manual loop accumulating in ``x``'s dtype (``longsum_manual``). Each pins a config in its
decorator; the named config ``pinned`` repeats it so the sweep checks it next to DEFAULT and the
sampled ones.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel(
    config=helion.Config(
        block_sizes=[1],
        reduction_loops=[None],
        num_warps=32,
        num_stages=4,
        indexing="block_ptr",
    )
)
def longsum(x: torch.Tensor) -> torch.Tensor:
    """
    Naive reduction kernel that sums elements along the last dimension.

    Loads the entire reduction dimension at once and reduces in registers.

    Args:
        x: Input tensor of shape [m, n]

    Returns:
        Output tensor of shape [m] containing the sum of each row
    """
    m, _ = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        out[tile_m] = x[tile_m, :].sum(-1)
    return out


# Looped Reduction Kernel
# -----------------------


@helion.kernel(
    config=helion.Config(
        block_sizes=[1],
        reduction_loops=[
            32768
        ],  # [None] for naive reduction, [tile_size] for looped reduction
        num_warps=16,
        num_stages=5,
        indexing="pointer",
    )
)
def longsum_w_red_loop(x: torch.Tensor) -> torch.Tensor:
    """
    Looped reduction kernel that sums elements along the last dimension.

    Uses a reduction loop with a specified tile size to handle large dimensions efficiently.

    Args:
        x: Input tensor of shape [m, n]

    Returns:
        Output tensor of shape [m] containing the sum of each row
    """
    m, _ = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        out[tile_m] = x[tile_m, :].sum(-1)
    return out


# Manual Looped Reduction Kernel
# ------------------------------


@helion.kernel(
    config=helion.Config(
        block_sizes=[32768, 1], num_warps=16, num_stages=5, indexing="pointer"
    )
)
def longsum_manual(x: torch.Tensor) -> torch.Tensor:
    """
    Manual implementation of looped reduction for summing elements along the last dimension.

    Manually implements the reduction loop with explicit accumulation and final reduction.

    Args:
        x: Input tensor of shape [m, n]

    Returns:
        Output tensor of shape [m] containing the sum of each row
    """
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)

    # Call register_block_size to know block_size_n outside of the reduction loop.
    block_size_n = hl.register_block_size(n)

    for tile_m in hl.tile(m):
        acc = hl.zeros([tile_m, block_size_n], dtype=x.dtype)
        for tile_n in hl.tile(n, block_size=block_size_n):  # Reduction loop
            acc += x[tile_m, tile_n]
        out[tile_m] = acc.sum(-1)
    return out

# fmt: on


def row_sum_reference(x: torch.Tensor) -> torch.Tensor:
    return x.sum(-1)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: each output sums one row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    m, n = shape
    # Entries of standard deviation 1/sqrt(N) keep each row sum of order one.
    x = torch.randn((m, n), generator=generator) * n**-0.5
    return (x.to(dtype),)


# The examples sum in x's dtype: the generated code calls tl.sum on the fp16/bf16 tile, which
# Triton does not widen (triton/language/standard.py, _pick_sum_dtype widens integers only), and
# longsum_manual's accumulator is hl.zeros(..., dtype=x.dtype). The policy assumes fp32
# accumulation; measured under the interpreter: 2.3 fp16 ulps (tree sum of 5000) and 4.4
# (longsum_manual, 78 sequential adds per lane in 64-wide chunks).
_HALF_TOLERANCES = {
    torch.float16: Tolerance(
        1e-2,
        1e-2,
        reason="accumulates in fp16 (tl.sum of an fp16 tile, fp16 accumulator), about 20 fp16 "
        "ulps of an order-one sum; measured up to 4.4 ulps at N = 5000",
    ),
    torch.bfloat16: Tolerance(
        8e-2,
        8e-2,
        reason="accumulates in bf16 (tl.sum of a bf16 tile, bf16 accumulator): the fp16 "
        "allowance scaled by bf16's 8x larger unit roundoff",
    ),
}


def _spec(name: str, kernel: object, pinned: helion.Config, what: str) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=row_sum_reference,
        make_inputs=make_inputs,
        reduction_length=reduction_length,
        # (4, 130000) is the example's own shape (a 128k sequence).
        shapes=[(4, 130000), (32, 262147)],
        small_shapes=[(3, 5000), (2, 33)],
        dtypes=[torch.float32, torch.float16, torch.bfloat16],
        configs={"default": DEFAULT, "pinned": pinned},
        tolerances=_HALF_TOLERANCES,
        # Third-party kernels: no golden files of their generated code are kept.
        description=f"Helion example: long row sum, {what}",
    )


SPECS = [
    _spec("ex_longsum", longsum, longsum.configs[0], "whole row in registers"),
    _spec("ex_longsum_red_loop", longsum_w_red_loop, longsum_w_red_loop.configs[0], "reduction loop"),
    _spec("ex_longsum_manual", longsum_manual, longsum_manual.configs[0], "manual loop, x-dtype accumulator"),
]
