"""Long row sum: ``out[i] = sum(x[i, :])`` for ``x`` of shape ``[M, N]`` with ``N`` large.

Shape convention: ``(M, N)`` is the shape of ``x``. Each program owns a block of rows and walks
the columns in tiles, adding every tile into a 2-D fp32 accumulator that it reduces once at the
end; the output ``[M]`` has the input dtype. ``make_inputs`` scales ``randn`` by ``1/sqrt(N)`` so
row sums are O(1) whatever ``N`` is, which keeps one absolute tolerance meaningful for all shapes.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def row_sum(x: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    block_n = hl.register_block_size(n)
    for rows in hl.tile(m):
        acc = hl.zeros([rows, block_n], dtype=torch.float32)
        for cols in hl.tile(n, block_size=block_n):
            acc = acc + x[rows, cols].to(torch.float32)
        out[rows] = torch.sum(acc, dim=-1).to(out.dtype)
    return out


def row_sum_reference(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=-1)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    n = shape[-1]
    x = torch.randn(shape, generator=generator, dtype=torch.float32) / n**0.5
    return (x.to(dtype),)


# fp32 accumulation order is config-dependent: a column tile of 1 adds N values one after the
# other per row. Emulated on the full shapes with inputs from make_inputs, that sequential order
# is off from the float64 sum by up to 4e-5 (N = 2**20: 0.65 * sqrt(N) * 2**-24), tiles of 4096
# by under 1e-6. The policy's sqrt(N) term (4 * sqrt(N) * 2**-23 = 4.9e-4 at N = 2**20) covers
# it in rtol and atol (row sums near zero make it an absolute error); docs/numerics.md.
def reduction_length(shape: tuple[int, ...]) -> int:
    """N: each row sum adds N terms."""
    return shape[-1]


SPEC = KernelSpec(
    name="sum",
    kernel=row_sum,
    reference=row_sum_reference,
    make_inputs=make_inputs,
    shapes=[(8, 1048576), (32, 262147)],
    small_shapes=[(3, 5000), (2, 33)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [column tile (register_block_size), rows per program].
        # One row per program, 4096-wide column tiles, 8 warps.
        "wide": helion.Config(block_sizes=[4096, 1], num_warps=8),
        # Four rows per program, 256-wide column tiles, 4 warps.
        "narrow": helion.Config(block_sizes=[256, 4], num_warps=4),
    },
    reduction_length=reduction_length,
    description="fp32-accumulated sum over a long last dim",
)
