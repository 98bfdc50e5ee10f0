"""Liger-Kernel's rotary position embedding kernel (in place on q and k), through a kcheck launcher.

Source: liger-kernel 0.8.5 from PyPI, ``liger_kernel/ops/rope.py``, ``_triton_rope``
(https://github.com/linkedin/Liger-Kernel). License: BSD-2-Clause, Copyright 2024 LinkedIn
Corporation (the wheel's METADATA and ``licenses/LICENSE``; copy in ../LICENSE-liger-kernel).
Imported from the installed package.

The kernel rotates q and k in place, one program per (batch, position) row; the spec lists both
in ``mutates`` and the reference rotates its copies the same way. Liger's wrapper transposes
HF-layout (batch, heads, seq, dim) tensors to (batch, seq, heads, dim) and makes them contiguous
before the launch; ``make_inputs`` builds that layout directly. The kernel's BLOCK_SIZE is
unused (the launcher passes liger's value), so the config knobs are num_warps and num_stages;
``DEFAULT`` is liger's launch (Triton's defaults: 4 warps, 3 stages).

Shapes are (batch, seq, q heads, kv heads, head dim); cos and sin are (1, seq, head dim), each
row two copies of the same half (the HF convention).
"""

import torch
import triton
from liger_kernel.ops.rope import _triton_rope

from checker.spec import DEFAULT, Tolerance
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec


def launch(kernel, q, k, cos, sin):
    bs, sl, n_qh, hd = q.shape
    n_kh = k.shape[2]
    pad_qh, pad_kh, pad_hd = (triton.next_power_of_2(v) for v in (n_qh, n_kh, hd))
    kernel[(bs * sl,)](
        q, q.stride(1), k, k.stride(1), cos, cos.stride(-2), sin, sin.stride(-2),
        sl, bs, cos.shape[0], n_qh, n_kh, hd, pad_qh, pad_kh, pad_hd, pad_hd, hd,
        BLOCK_SIZE=max(pad_qh, pad_kh), BACKWARD_PASS=False,
    )  # fmt: skip


def make_inputs(shape, dtype, gen):
    bs, sl, n_qh, n_kh, hd = shape
    q = torch.randn(bs, sl, n_qh, hd, generator=gen).to(dtype)
    k = torch.randn(bs, sl, n_kh, hd, generator=gen).to(dtype)
    freqs = torch.arange(sl)[:, None] * (10000.0 ** (-torch.arange(0, hd, 2) / hd))[None, :]
    angles = torch.cat([freqs, freqs], dim=-1)[None]
    return q, k, angles.cos().to(dtype), angles.sin().to(dtype)


def reference(q, k, cos, sin):
    half = q.shape[-1] // 2
    c, s = cos[:, :, None, :half], sin[:, :, None, :half]
    for t in (q, k):
        t1, t2 = t[..., :half].clone(), t[..., half:].clone()
        t[..., :half] = t1 * c - t2 * s
        t[..., half:] = t2 * c + t1 * s


def liger_launch(q, k, cos, sin):
    return triton.Config({})  # liger passes no num_warps/num_stages: Triton's defaults


SPEC = TritonSpec(
    name="liger_rope",
    kernel=TritonKernel(
        _triton_rope,
        launch,
        space=ConfigSpace({"num_warps": [1, 2, 4, 8], "num_stages": [1, 2, 3]}),
        default=liger_launch,
    ),
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(2, 2048, 32, 8, 128), (1, 1000, 12, 4, 64)],
    small_shapes=[(1, 4, 4, 2, 16), (2, 3, 3, 1, 32)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={"liger": DEFAULT, "w1": triton.Config({}, num_warps=1, num_stages=1)},
    mutates=["q", "k"],
    # The kernel rotates in the input dtype: q1*cos - q2*sin with each product and the sum rounded
    # to fp16/bf16, where the policy assumes one rounding of the result. Bound: 3 roundings of
    # terms up to |q| <= 5, 3 * 5 * u (u = 2**-11 fp16, 2**-8 bf16); measured on small shapes:
    # 1.7e-3 (fp16), 1.5e-2 (bf16).
    tolerances={
        torch.float16: Tolerance(
            1e-3, 7.5e-3, reason="rotation computed in fp16: three roundings of terms up to 5"
        ),
        torch.bfloat16: Tolerance(
            8e-3, 6e-2, reason="rotation computed in bf16: three roundings of terms up to 5"
        ),
    },
)
