"""A plain Triton bf16 kernel with a real bug, for reproducers of bf16 interpreter cases
(tests/test_repro_interpreter.py).

Written for kcheck. ``row_sum_kernel`` sums each row of a bf16 matrix, but its mask drops the
last column (the bug: ``n_cols - 1``), so every row sum misses one value of order one: a
``numerical-mismatch`` whose error is that value. Triton 3.6's own interpreter sums bf16 on its
uint16 storage bits (docs/interpreter.md), which gives sums of order 1e37 instead; the checker
runs it with its bf16 fixes (checker/interpreter.py), and so must a reproducer of the case.
"""

import torch
import triton
import triton.language as tl

from checker.triton_spec import TritonKernel, TritonSpec


@triton.jit
def row_sum_kernel(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols - 1, other=0.0)  # the bug: - 1
    tl.store(y_ptr + row, tl.sum(x, axis=0))


def launch_row_sum(kernel, x, *, BLOCK):
    y = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    kernel[(x.shape[0],)](x, y, x.shape[1], BLOCK=BLOCK)
    return y


def rows(shape, dtype, gen):
    # 1/sqrt(n) per value: row sums of order one, as the tolerance policy's atol assumes.
    return ((torch.randn(shape, generator=gen) / shape[1] ** 0.5).to(dtype),)


def row_sum(x):
    return x.sum(dim=-1)


SPECS = [
    TritonSpec(
        name="row_sum_bf16",
        kernel=TritonKernel(row_sum_kernel, launch_row_sum),
        reference=row_sum,
        make_inputs=rows,
        shapes=[(256, 128)],
        small_shapes=[(16, 128)],
        dtypes=[torch.bfloat16],
        configs={"b128": triton.Config({"BLOCK": 128}, num_warps=4, num_stages=1)},
        reduction_length=lambda shape: shape[1],
    ),
]
