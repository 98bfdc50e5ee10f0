"""Attention with P rounded to the input dtype before the P@V dot: the ``fp16-operand`` and
``bf16-operand`` tolerance presets (checker/spec.py DOT_PRECISIONS, docs/numerics.md), checked
by tests/test_numerics_preset.py.

Written for kcheck. ``attention_kernel`` is one block of single-head attention as flash
attention computes it: S = Q K^T * scale in fp32, P = exp(S - rowmax) in fp32, l = sum(P) in
fp32, then ``tl.dot(p.to(v.dtype), v) / l``: P is rounded to fp16/bf16 for the second dot. The
float64 reference never rounds P, so the default fp16/bf16 tolerance fails on small outputs,
while the preset (4 * u of the rounded operand) holds. Three specs over the one kernel:

* ``attn_default``: no preset: ``numerical-mismatch`` (the rounding of P, not a bug);
* ``attn_preset``: ``dot_precision`` fp16-operand / bf16-operand: passes;
* ``attn_wrong_scale``: the preset, but the launcher passes the scale 1/D instead of 1/sqrt(D)
  (a wrong constant): ``numerical-mismatch`` still.
"""

import math

import torch
import triton
import triton.language as tl

from checker.triton_spec import TritonKernel, TritonSpec


@triton.jit
def attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, scale, N: tl.constexpr, D: tl.constexpr, BM: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.arange(0, N)
    rd = tl.arange(0, D)
    q = tl.load(q_ptr + rm[:, None] * D + rd[None, :])
    k = tl.load(k_ptr + rn[:, None] * D + rd[None, :])
    v = tl.load(v_ptr + rn[:, None] * D + rd[None, :])
    s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
    p = tl.exp(s - tl.max(s, axis=1)[:, None])
    row_sum = tl.sum(p, axis=1)
    # P rounded to the input dtype for the second dot, as flash attention does.
    o = tl.dot(p.to(v.dtype), v, input_precision="ieee") / row_sum[:, None]
    tl.store(o_ptr + rm[:, None] * D + rd[None, :], o.to(o_ptr.dtype.element_ty))


def launch_attention(kernel, q, k, v, *, BM):
    o = torch.empty_like(q)
    (m, d), n = q.shape, k.shape[0]
    kernel[(triton.cdiv(m, BM),)](q, k, v, o, 1.0 / math.sqrt(d), N=n, D=d, BM=BM)
    return o


def launch_attention_wrong_scale(kernel, q, k, v, *, BM):
    o = torch.empty_like(q)
    (m, d), n = q.shape, k.shape[0]
    kernel[(triton.cdiv(m, BM),)](q, k, v, o, 1.0 / d, N=n, D=d, BM=BM)  # the bug: 1/d
    return o


def qkv(shape, dtype, gen):
    m, n, d = shape
    return tuple(torch.randn(rows, d, generator=gen).to(dtype) for rows in (m, n, n))


def attention(q, k, v):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[1]), dim=-1) @ v


PRESET = {torch.float16: "fp16-operand", torch.bfloat16: "bf16-operand"}


def _spec(name, launch, dot_precision):
    return TritonSpec(
        name=name,
        kernel=TritonKernel(attention_kernel, launch),
        reference=attention,
        make_inputs=qkv,
        shapes=[(128, 128, 64)],
        small_shapes=[(64, 64, 32)],
        dtypes=[torch.float16, torch.bfloat16],
        configs={"bm16": triton.Config({"BM": 16}, num_warps=4, num_stages=1)},
        dot_precision=dot_precision,
        # The P@V dot accumulates over the N keys.
        reduction_length=lambda shape: shape[1],
    )


SPECS = [
    _spec("attn_default", launch_attention, {}),
    _spec("attn_preset", launch_attention, PRESET),
    _spec("attn_wrong_scale", launch_attention_wrong_scale, PRESET),
]
