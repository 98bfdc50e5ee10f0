"""flash-linear-attention's fused activation kernels, checked through kcheck launchers.

Source: fla-core 0.6.0 from PyPI, ``fla/modules/activations/ops.py``
(https://github.com/fla-org/flash-linear-attention). License: MIT, Copyright (c) 2023-2026
Songlin Yang, Yu Zhang, Zhiyuan Li (the wheel's ``licenses/LICENSE``; copy in
../LICENSE-fla-core). The kernels are imported from the installed package, never copied.

Wrapper kinds: ``@triton.autotune`` over ``@triton.jit`` (30 configs: B in 512..8192, 1..32
warps, keyed on D), and ``swiglu_fwdbwd_kernel`` with ``@triton.heuristics`` (HAS_WEIGHT, from
whether ``z`` is given) over that. Each launcher is fla's own host function (``sigmoid_fwd``,
``swiglu_fwdbwd``...) for a contiguous input: the grid is ``cdiv(T, B)`` over the flattened
tensor, B comes from the autotune config the case runs.

Shapes are (M, D): every input is M x D; the kernels compute in fp32 and round the result to
the input dtype once.
"""

import torch
import torch.nn.functional as F
from fla.modules.activations.ops import (
    logsigmoid_fwd_kernel,
    sigmoid_fwd_kernel,
    swiglu_fwd_kernel,
    swiglu_fwdbwd_kernel,
    swish_fwd_kernel,
)
from triton import cdiv

from checker.triton_spec import TritonKernel, TritonSpec

TEMPERATURE = 2.0


def _unary(kernel, x, *extra):
    """fla's ``<act>_fwd``: y = act(x), one program per B elements of the flattened x."""
    t, d = x.numel(), x.shape[-1]
    y = torch.empty_like(x)
    kernel[lambda meta: (cdiv(t, meta["B"]),)](x, y, d, d, *extra, t, d)
    return y


def launch_sigmoid(kernel, x):
    return _unary(kernel, x)


def launch_swish(kernel, x):
    return _unary(kernel, x)


def launch_logsigmoid(kernel, x):
    return _unary(kernel, x, TEMPERATURE)


def launch_swiglu(kernel, x, y):
    """fla's ``swiglu_fwd``: z = swish(x) * y."""
    t, d = x.numel(), x.shape[-1]
    z = torch.empty_like(x)
    kernel[lambda meta: (cdiv(t, meta["B"]),)](
        x=x, y=y, z=z, stride_x_row=d, stride_y_row=d, stride_z_row=d, T=t, D=d
    )
    return z


def launch_swiglu_fwdbwd(kernel, x, y, g):
    """fla's ``swiglu_fwdbwd(use_weight=True)``: the gradients dx, dy of swiglu for the
    upstream gradient g, and the recomputed forward z (HAS_WEIGHT, set by the heuristic)."""
    t, d = x.numel(), x.shape[-1]
    dx, dy, z = torch.empty_like(x), torch.empty_like(y), torch.empty_like(x)
    kernel[lambda meta: (cdiv(t, meta["B"]),)](x, y, g, dx, dy, z, d, d, d, d, d, d, t, d)
    return dx, dy, z


def make_one(shape, dtype, gen):
    return (torch.randn(*shape, generator=gen).to(dtype),)


def make_two(shape, dtype, gen):
    return make_one(shape, dtype, gen) + make_one(shape, dtype, gen)


def make_three(shape, dtype, gen):
    return make_one(shape, dtype, gen) + make_two(shape, dtype, gen)


def ref_logsigmoid(x):
    return F.logsigmoid(x) / TEMPERATURE


def ref_swiglu(x, y):
    return F.silu(x) * y


def ref_swiglu_fwdbwd(x, y, g):
    s = torch.sigmoid(x)
    return g * s * (1 + x * (1 - s)) * y, g * x * s, x * s * y


COMMON = dict(
    shapes=[(4096, 4096), (1000, 2731)],
    small_shapes=[(4, 96), (3, 70)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
)

SPECS = [
    TritonSpec(
        name="fla_sigmoid",
        kernel=TritonKernel(sigmoid_fwd_kernel, launch_sigmoid),
        reference=torch.sigmoid,
        make_inputs=make_one,
        **COMMON,
    ),
    TritonSpec(
        name="fla_swish",
        kernel=TritonKernel(swish_fwd_kernel, launch_swish),
        reference=F.silu,
        make_inputs=make_one,
        **COMMON,
    ),
    TritonSpec(
        name="fla_logsigmoid",
        kernel=TritonKernel(logsigmoid_fwd_kernel, launch_logsigmoid),
        reference=ref_logsigmoid,
        make_inputs=make_one,
        **COMMON,
    ),
    TritonSpec(
        name="fla_swiglu",
        kernel=TritonKernel(swiglu_fwd_kernel, launch_swiglu),
        reference=ref_swiglu,
        make_inputs=make_two,
        **COMMON,
    ),
    TritonSpec(
        name="fla_swiglu_fwdbwd",
        kernel=TritonKernel(swiglu_fwdbwd_kernel, launch_swiglu_fwdbwd),
        reference=ref_swiglu_fwdbwd,
        make_inputs=make_three,
        **COMMON,
    ),
]
