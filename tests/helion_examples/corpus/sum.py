# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/sum.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `sum_kernel` is copied verbatim (between `fmt: off/on`); dropped
# the tritonbench wrapper, `check()` and `main()`; added this header, the module docstring, the
# reference, make_inputs and SPEC.
# ruff: noqa: RUF059 (the copied kernel unpacks an unused size; it is kept verbatim)
"""Row sum (Helion example ``sum``): ``out[i] = sum(x[i, :])``.

Shape convention: ``(M, N)`` is the shape of ``x``; the output is ``[M]`` in x's dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel()
def sum_kernel(x: torch.Tensor) -> torch.Tensor:
    """
    Sums a 2D tensor along the last dimension.

    Args:
        x: Input tensor of shape [M, N]

    Returns:
        Output tensor of shape [M] containing the sum of each row
    """
    m, n = x.shape
    out = torch.empty([m], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        out[tile_m] = x[tile_m, :].sum(-1)

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
    return ((torch.randn((m, n), generator=generator) * n**-0.5).to(dtype),)


# As in long_sum.py (the same kernel body): tl.sum of an fp16/bf16 tile accumulates in that dtype
# (Triton widens integer sums only), while the policy assumes fp32 accumulation.
_HALF_TOLERANCES = {
    torch.float16: Tolerance(
        1e-2,
        1e-2,
        reason="accumulates in fp16 (tl.sum of an fp16 tile), about 20 fp16 ulps of an "
        "order-one sum, as long_sum.py measured",
    ),
    torch.bfloat16: Tolerance(
        8e-2,
        8e-2,
        reason="accumulates in bf16 (tl.sum of a bf16 tile): the fp16 allowance scaled by "
        "bf16's 8x larger unit roundoff",
    ),
}

SPEC = KernelSpec(
    name="ex_sum",
    kernel=sum_kernel,
    reference=row_sum_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (5120, 2560) and (10240, 10240) are the example's own main() shapes.
    shapes=[(5120, 2560), (10240, 10240)],
    small_shapes=[(16, 64), (5, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # 8 rows per program, the row reduced in a loop of 32.
        "rows8_loop32": helion.Config(block_sizes=[8], reduction_loops=[32], num_warps=4),
    },
    tolerances=_HALF_TOLERANCES,
    description="Helion example: row sum",
)
