"""Liger-Kernel's SwiGLU forward kernel (column-tiled variant), checked through a kcheck launcher.

Source: liger-kernel 0.8.5 from PyPI, ``liger_kernel/ops/swiglu.py``,
``_swiglu_forward_kernel_tiled`` (https://github.com/linkedin/Liger-Kernel). License:
BSD-2-Clause, Copyright 2024 LinkedIn Corporation (the wheel's METADATA and
``licenses/LICENSE``; copy in ../LICENSE-liger-kernel). Imported from the installed package.

Liger launches this kernel on a (rows, cdiv(N, BLOCK_SIZE)) grid (its Blackwell path, 1024-wide
tiles); here the tile width, num_warps and num_stages come from the case's config, so any
power-of-two BLOCK_SIZE is valid. ``DEFAULT`` is liger's ``_swiglu_tile_settings``.

Shapes are (M, N): a and b are M x N; c = silu(a) * b (silu in fp32, rounded to the input dtype,
then multiplied in it).
"""

import torch
from liger_kernel.ops.swiglu import _swiglu_forward_kernel_tiled, _swiglu_tile_settings
from triton import Config, cdiv

from checker.spec import DEFAULT
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec

GATE = 1.0


def launch(kernel, a, b, *, BLOCK_SIZE):
    n_rows, n_cols = a.shape
    c = torch.empty_like(a)
    kernel[(n_rows, cdiv(n_cols, BLOCK_SIZE))](a, b, c, c.stride(-2), GATE, n_cols, BLOCK_SIZE=BLOCK_SIZE)
    return c


def liger_settings(a, b):
    block, warps = _swiglu_tile_settings(a.shape[1])
    return Config({"BLOCK_SIZE": block}, num_warps=warps)


def make_inputs(shape, dtype, gen):
    m, n = shape
    return torch.randn(m, n, generator=gen).to(dtype), torch.randn(m, n, generator=gen).to(dtype)


def reference(a, b):
    return torch.nn.functional.silu(a * GATE) * b


SPEC = TritonSpec(
    name="liger_swiglu",
    kernel=TritonKernel(
        _swiglu_forward_kernel_tiled,
        launch,
        space=ConfigSpace(
            {
                "BLOCK_SIZE": [32, 64, 128, 256, 512, 1024, 2048, 4096],
                "num_warps": [1, 2, 4, 8],
                "num_stages": [1, 2, 3],
            }
        ),
        default=liger_settings,
    ),
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(4096, 4096), (1000, 2731)],
    small_shapes=[(4, 96), (3, 70)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={"liger": DEFAULT, "b64_w2": Config({"BLOCK_SIZE": 64}, num_warps=2, num_stages=2)},
)
