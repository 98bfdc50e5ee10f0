"""Plain Triton example (docs/kernel-spec.md#plain-triton-kernels): y = alpha * x + b, row-wise.

Shapes are (M, N): x is M x N, b has N entries. Two kernels: a ``@triton.jit`` one launched by a
launcher that takes BLOCK_SIZE from the config, and a ``@triton.autotune`` one whose config
list is its config space (``autotune0`` named, ``--configs N`` draws the rest). Written for
kcheck (no third-party code).
"""

import torch
import triton
import triton.language as tl

from checker.spec import DEFAULT
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec


@triton.jit
def scale_bias_kernel(x_ptr, b_ptr, y_ptr, n_cols, stride, alpha, BLOCK_SIZE: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    cols = block * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * stride + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    y = x.to(tl.float32) * alpha + b.to(tl.float32)
    tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


ALPHA = 1.5


def launch_scale_bias(kernel, x, b, *, BLOCK_SIZE):
    """Outputs and grid from the inputs and the config's BLOCK_SIZE; num_warps and num_stages
    are added by the checker."""
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[(m, triton.cdiv(n, BLOCK_SIZE))](x, b, y, n, x.stride(0), ALPHA, BLOCK_SIZE=BLOCK_SIZE)
    return y


def make_inputs(shape, dtype, gen):
    m, n = shape
    return torch.randn(m, n, generator=gen).to(dtype), torch.randn(n, generator=gen).to(dtype)


def reference(x, b):
    return x * ALPHA + b


def default_config(x, b):
    """What a hand-written wrapper would pick: one block per 1024 columns at most."""
    return triton.Config({"BLOCK_SIZE": min(1024, triton.next_power_of_2(x.shape[1]))}, num_warps=4)


@triton.autotune(
    configs=[
        triton.Config({"BLOCK_SIZE": 64}, num_warps=2, num_stages=1),
        triton.Config({"BLOCK_SIZE": 256}, num_warps=4, num_stages=2),
    ],
    key=["n_cols"],
)
@triton.jit
def scale_bias_tuned(x_ptr, b_ptr, y_ptr, n_cols, stride, alpha, BLOCK_SIZE: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    cols = block * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * stride + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    y = x.to(tl.float32) * alpha + b.to(tl.float32)
    tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def launch_tuned(kernel, x, b):
    """An autotuned kernel's launcher names no config knob: the grid reads BLOCK_SIZE from the
    launch's meta-parameters, as with Triton's autotuner."""
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[lambda meta: (m, triton.cdiv(n, meta["BLOCK_SIZE"]))](x, b, y, n, x.stride(0), ALPHA)
    return y


COMMON = dict(
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(4096, 4096), (1000, 1023)],
    small_shapes=[(4, 96), (3, 33)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
)

SPECS = [
    TritonSpec(
        name="tri_scale_bias",
        kernel=TritonKernel(
            scale_bias_kernel,
            launch_scale_bias,
            space=ConfigSpace(
                {
                    "BLOCK_SIZE": [16, 32, 64, 128, 256, 512, 1024],
                    "num_warps": [1, 2, 4, 8],
                    "num_stages": [1, 2, 3],
                }
            ),
            default=default_config,
        ),
        configs={"default": DEFAULT, "b128": triton.Config({"BLOCK_SIZE": 128}, num_warps=4, num_stages=2)},
        **COMMON,
    ),
    TritonSpec(name="tri_scale_bias_tuned", kernel=TritonKernel(scale_bias_tuned, launch_tuned), **COMMON),
]
