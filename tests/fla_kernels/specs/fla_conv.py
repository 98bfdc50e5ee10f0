"""flash-linear-attention's short convolution and token-shift kernels, checked through kcheck
launchers.

Source: fla-core 0.6.0 from PyPI (https://github.com/fla-org/flash-linear-attention):
``fla/modules/causal_conv1d/ops.py`` (``causal_conv1d_fwd_kernel``) and
``fla/modules/token_shift.py`` (``token_shift_fwd_kernel_short``). License: MIT, Copyright (c)
2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li (copy in ../LICENSE-fla-core). The kernels are
imported from the installed package, never copied.

Wrapper kinds:

- ``fla_causal_conv1d``: ``@triton.heuristics`` (HAS_WEIGHT, HAS_BIAS, HAS_RESIDUAL,
  USE_INITIAL_STATE, IS_VARLEN) over fla's ``CachedAutotuner`` (16 configs: BD x num_warps)
  over jit. Depthwise causal convolution of width W over time with weight, bias, an initial
  state (the W inputs before t = 0) and a residual, swish activation (residual added after it),
  fla's ``causal_conv1d_fwd`` with chunk size 64.
- ``fla_token_shift``: ``@triton.heuristics`` (IS_VARLEN, USE_INITIAL_STATE) over
  ``@triton.autotune`` (num_warps x num_stages, no kwargs) over jit: y[t] = x[t-1] - x[t], x[-1]
  taken from a cache, and the last x of each sequence written out (fla's ``token_shift_fwd``
  with ``cache`` and ``output_cache=True``, T <= 4096: the short kernel).

Shapes are (B, T, D); W = 4.
"""

import torch
import torch.nn.functional as F
from fla.modules.causal_conv1d.ops import causal_conv1d_fwd_kernel
from fla.modules.token_shift import token_shift_fwd_kernel_short
from triton import cdiv, next_power_of_2

from checker.triton_spec import TritonKernel, TritonSpec

WIDTH = 4
CHUNK = 64


def launch_causal_conv1d(kernel, x, weight, bias, residual, initial_state):
    b, t, d = x.shape
    w = weight.shape[1]
    y = torch.empty_like(x)
    kernel[lambda meta: (cdiv(d, meta["BD"]), cdiv(t, CHUNK), b)](
        x=x, y=y, weight=weight, bias=bias, residual=residual, cu_seqlens=None,
        initial_state=initial_state, chunk_indices=None, B=b, T=t, stride_x_n=x.stride(0),
        stride_x_t=x.stride(1), stride_x_d=x.stride(2), D=d, W=w, BT=CHUNK, BW=next_power_of_2(w),
        ACTIVATION="swish",
    )  # fmt: skip
    return y


def ref_causal_conv1d(x, weight, bias, residual, initial_state):
    """initial_state[b, :, j] is x at time j - W (fla's layout: [N, D, W])."""
    t = x.shape[1]
    xx = torch.cat([initial_state.transpose(1, 2), x], 1)  # [B, W + T, D]
    acc = sum(xx[:, 1 + i : 1 + i + t] * weight[:, i] for i in range(weight.shape[1]))
    return (F.silu(acc + bias) + residual).to(x.dtype)


def make_conv(shape, dtype, gen):
    b, t, d = shape
    return (
        torch.randn(b, t, d, generator=gen).to(dtype),
        (torch.randn(d, WIDTH, generator=gen) / WIDTH**0.5).to(dtype),
        torch.randn(d, generator=gen).to(dtype),
        torch.randn(b, t, d, generator=gen).to(dtype),
        torch.randn(b, d, WIDTH, generator=gen).to(dtype),
    )


def launch_token_shift(kernel, x, cache):
    b, t, d = x.shape
    y = torch.empty_like(x)
    cache_out = torch.empty(b, d, dtype=x.dtype, device=x.device)
    kernel[(b, t)](
        x=x, y=y, cu_seqlens=None, cache=cache, cache_out=cache_out, T=t, D=d,
        BD=next_power_of_2(d), STORE_FINAL_STATE=True, IS_DECODE=t == 1,
    )  # fmt: skip
    return y, cache_out


def ref_token_shift(x, cache):
    prev = torch.cat([cache[:, None], x[:, :-1]], 1)
    return (prev - x).to(x.dtype), x[:, -1]


def make_token_shift(shape, dtype, gen):
    b, t, d = shape
    return torch.randn(b, t, d, generator=gen).to(dtype), torch.randn(b, d, generator=gen).to(dtype)


DTYPES = [torch.float32, torch.float16, torch.bfloat16]

SPECS = [
    TritonSpec(
        name="fla_causal_conv1d",
        kernel=TritonKernel(causal_conv1d_fwd_kernel, launch_causal_conv1d),
        reference=ref_causal_conv1d,
        make_inputs=make_conv,
        shapes=[(8, 4096, 2048), (3, 1000, 1000)],
        small_shapes=[(2, 70, 40), (1, 3, 24)],
        dtypes=DTYPES,
        reduction_length=lambda shape: WIDTH,
    ),
    TritonSpec(
        name="fla_token_shift",
        kernel=TritonKernel(token_shift_fwd_kernel_short, launch_token_shift),
        reference=ref_token_shift,
        make_inputs=make_token_shift,
        shapes=[(8, 4096, 2048), (3, 1000, 1000)],
        small_shapes=[(2, 7, 40), (1, 1, 24)],
        dtypes=DTYPES,
    ),
]
