"""Two row sums of bf16 inputs for the checker under the Triton interpreter (tests only).

``bf16_acc_sum`` truly accumulates in bf16: each of 16 lanes per row adds N/16 values one after
the other into a bf16 accumulator, so once a lane's sum reaches 512 (bf16 ulp 4) every further
add of a value in [1, 2) rounds away: the result is ~1/3 too small. A GPU computes the same, and
the checker must report it as ``numerical-mismatch`` on CPU too (the interpreter's bf16 patches
must not hide real bf16 rounding). ``fp32_acc_sum`` is the same kernel accumulating in fp32 and
must pass. Shapes are (rows, N).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import KernelSpec


@helion.kernel(static_shapes=True)
def bf16_acc_sum(x: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    block_n = hl.register_block_size(n)
    for rows in hl.tile(m):
        acc = hl.zeros([rows, block_n], dtype=torch.bfloat16)
        for cols in hl.tile(n, block_size=block_n):
            acc = acc + x[rows, cols]
        out[rows] = torch.sum(acc.to(torch.float32), dim=-1).to(out.dtype)
    return out


@helion.kernel(static_shapes=True)
def fp32_acc_sum(x: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    block_n = hl.register_block_size(n)
    for rows in hl.tile(m):
        acc = hl.zeros([rows, block_n], dtype=torch.float32)
        for cols in hl.tile(n, block_size=block_n):
            acc = acc + x[rows, cols].to(torch.float32)
        out[rows] = torch.sum(acc, dim=-1).to(out.dtype)
    return out


def reference(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=-1)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    return ((1.0 + torch.rand(shape, generator=generator)).to(dtype),)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: each row sum adds N terms."""
    return shape[-1]


# block_sizes = [column tile (register_block_size), rows per program]: 16 lanes per row.
_NARROW = {"narrow": helion.Config(block_sizes=[16, 1], num_warps=1)}

SPECS = [
    KernelSpec(
        name=kernel.name,
        kernel=kernel,
        reference=reference,
        make_inputs=make_inputs,
        shapes=[(4, 65536)],
        small_shapes=[(2, 8192)],
        dtypes=[torch.bfloat16],
        configs=_NARROW,
        reduction_length=reduction_length,
    )
    for kernel in (bf16_acc_sum, fp32_acc_sum)
]
