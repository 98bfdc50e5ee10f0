"""Liger-Kernel's RMSNorm forward kernel, checked through a kcheck launcher.

Source: liger-kernel 0.8.5 from PyPI, ``liger_kernel/ops/rms_norm.py``,
``_rms_norm_forward_kernel`` (https://github.com/linkedin/Liger-Kernel). License: BSD-2-Clause,
Copyright 2024 LinkedIn Corporation (the wheel's METADATA ``License`` field and
``licenses/LICENSE``; a copy is in ../LICENSE-liger-kernel). The kernel is imported from the
installed package, not copied; what is ours is the launcher, the reference and the spec.

The launcher does what liger's ``rms_norm_forward`` does in its Llama casting mode (Liger's
default: only the rstd is computed in fp32, the weight multiply in the input dtype), except
that BLOCK_SIZE, num_warps and num_stages come from the case's config. The kernel holds a whole
row in one block, so the config space offers BLOCK_SIZE >= next_pow2(N) only. ``DEFAULT`` is what
liger's wrapper picks (``calculate_settings``).

Shapes are (M, N): x is M x N, weight has N entries. Outputs: y (M x N, the input dtype) and
rstd (M, fp32).
"""

import torch
import triton
from liger_kernel.ops.rms_norm import _CASTING_MODE_LLAMA, _rms_norm_forward_kernel
from liger_kernel.ops.utils import calculate_settings

from checker.spec import DEFAULT, Output
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec

EPS = 1e-6
OFFSET = 0.0


def launch(kernel, x, weight, *, BLOCK_SIZE):
    n_rows, n_cols = x.shape
    y = torch.empty_like(x)
    rstd = torch.empty(n_rows, dtype=torch.float32, device=x.device)
    kernel[(n_rows,)](
        y, y.stride(0), x, x.stride(0), weight, weight.stride(0), rstd, rstd.stride(0),
        n_cols, EPS, OFFSET,
        casting_mode=_CASTING_MODE_LLAMA, elementwise_affine=True, BLOCK_SIZE=BLOCK_SIZE,
    )  # fmt: skip
    return y, rstd


def block_sizes(x, weight):
    """Whole rows per block: next_pow2(N) and two larger powers (more masked lanes)."""
    first = triton.next_power_of_2(x.shape[1])
    return [first * k for k in (1, 2, 4) if first * k <= 65536]


def liger_settings(x, weight):
    block, warps = calculate_settings(x.shape[1])
    return triton.Config({"BLOCK_SIZE": block}, num_warps=warps)


def make_inputs(shape, dtype, gen):
    m, n = shape
    return torch.randn(m, n, generator=gen).to(dtype), (1 + 0.1 * torch.randn(n, generator=gen)).to(dtype)


def reference(x, weight):
    rstd = torch.rsqrt(x.pow(2).mean(-1) + EPS)
    return x * rstd[:, None] * (OFFSET + weight), rstd


SPEC = TritonSpec(
    name="liger_rms_norm",
    kernel=TritonKernel(
        _rms_norm_forward_kernel,
        launch,
        space=ConfigSpace(
            {"BLOCK_SIZE": block_sizes, "num_warps": [1, 2, 4, 8, 16, 32], "num_stages": [1, 2, 3]}
        ),
        default=liger_settings,
    ),
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(2048, 4096), (1000, 1023)],
    small_shapes=[(5, 70), (16, 128)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={"liger": DEFAULT},
    reduction_length=lambda shape: shape[1],
    outputs=[Output("y"), Output("rstd", dtype=torch.float32)],
)
