"""flash-linear-attention's Wall attention decode kernel (cached decoding with a pre-rescaled
KV cache), checked through a kcheck launcher.

Source: fla-core 0.6.0 from PyPI, ``fla/ops/wall_attn/decode.py``,
``parallel_wall_attn_decode_kernel`` (https://github.com/fla-org/flash-linear-attention).
License: MIT, Copyright (c) 2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li (copy in
../LICENSE-fla-core). The kernel is imported from the installed package, never copied.

Wrapper kind: ``@triton.autotune`` (12 configs: BT x num_warps x num_stages) over
``@triton.heuristics`` (USE_SINK_BIAS, USE_SCALAR_G, USE_WINDOW from whether ``sink_bias``,
``g_scalar_cumsum`` and ``W`` are given) over jit: the heuristics sit under the autotuner, the
reverse of fla's other stacks. Here a sink bias and a scalar gate are given, no window.

The launcher is fla's ``parallel_wall_attn_decode`` with its Hopper block sizes (BK, BV =
next_pow2 of K, V, at most 256; fla picks smaller BV where it finds less shared memory, and on
a machine without a GPU). What the kernel computes, in log2 units (RCP_LN2 = 1/ln 2): query i
(the last T_q positions of the cache) attends to keys j <= T_kv - T_q + i with score
``s2[i, j] = scale * RCP_LN2 * <q_i * 2^(p_i - R[j // C]), k_tilde_j> + g[T_kv - T_q + i] - g[j]``
plus a sink of weight ``2^(sink * RCP_LN2)`` in the denominator; o = softmax2(s2) @ v (GQA: query
head h reads value head h // (HQ / H)) and lse = log2(sum_j 2^s2 + 2^sink2), fp32.

Shapes are (B, T_q, T_kv, HQ, H, K, V); the cache chunk C is 32.
"""

import math

import torch
from fla.ops.wall_attn.decode import parallel_wall_attn_decode_kernel
from triton import cdiv, next_power_of_2

from checker.spec import Output, Tolerance
from checker.triton_spec import TritonKernel, TritonSpec

CHUNK = 32
RCP_LN2 = 1 / math.log(2)


def launch(kernel, q, k_tilde, v, p_curr, r_cache, g_cumsum, sink_bias):
    b, t_q, hq, k = q.shape
    _, t_kv, h, vd = v.shape
    nc = r_cache.shape[1]
    bk = min(256, max(16, next_power_of_2(k)))
    bv = min(256, max(16, next_power_of_2(vd)))
    o = torch.empty(b, t_q, hq, vd, dtype=v.dtype, device=v.device)
    lse = torch.empty(b, t_q, hq, dtype=torch.float32, device=v.device)
    kernel[lambda meta: (cdiv(vd, bv) * cdiv(t_q, meta["BT"]) * b * hq,)](
        q=q, k_tilde=k_tilde, v=v, o=o, p_curr=p_curr, r_cache=r_cache, g_scalar_cumsum=g_cumsum,
        sink_bias=sink_bias, lse=lse, scale=k**-0.5, T_q=t_q, T_kv=t_kv, NC=nc,
        KV_CHUNKS_BUCKET=next_power_of_2(max(1, cdiv(t_kv, CHUNK))), W=None, B=b, H=h, HQ=hq,
        G=hq // h, K=k, V=vd, BS=CHUNK, BK=bk, BV=bv, C=CHUNK,
    )  # fmt: skip
    return o, lse


def reference(q, k_tilde, v, p_curr, r_cache, g_cumsum, sink_bias):
    b, t_q, hq, k = q.shape
    t_kv, h = v.shape[1], v.shape[2]
    chunk_of = torch.arange(t_kv, device=q.device) // CHUNK
    # q rescaled against the anchor of each key's chunk: [B, T_q, HQ, T_kv, K]
    q_til = q[:, :, :, None] * torch.exp2(
        p_curr[:, :, :, None] - r_cache[:, chunk_of].permute(0, 2, 1, 3)[:, None]
    )
    s2 = torch.einsum("bihjk,bjhk->bihj", q_til, k_tilde) * (k**-0.5 * RCP_LN2)
    pos = t_kv - t_q + torch.arange(t_q, device=q.device)
    s2 = s2 + g_cumsum[:, pos][..., None] - g_cumsum.permute(0, 2, 1)[:, None]
    future = torch.arange(t_kv, device=q.device)[None, :] > pos[:, None]  # [T_q, T_kv]
    s2 = s2.masked_fill(future[None, :, None, :], float("-inf"))
    sink2 = (sink_bias * RCP_LN2)[None, None, :, None].expand(b, t_q, hq, 1)
    lse = torch.logsumexp(torch.cat([s2, sink2], -1) * math.log(2), -1) / math.log(2)
    p = torch.exp2(s2 - lse[..., None])
    v_q = v.repeat_interleave(hq // h, dim=2)  # [B, T_kv, HQ, V]
    return torch.einsum("bihj,bjhv->bihv", p, v_q), lse


def make_inputs(shape, dtype, gen):
    b, t_q, t_kv, hq, h, k, vd = shape
    nc = cdiv(t_kv, CHUNK)

    def randn(*s, scale=1.0):
        return scale * torch.randn(*s, generator=gen)

    # p_curr and r_cache are per-channel prefixes of log2 gates (fp32 in fla): small, so the
    # rescale factors 2^(p - R) stay near one; g is a decreasing scalar gate prefix.
    return (
        randn(b, t_q, hq, k).to(dtype),
        randn(b, t_kv, hq, k).to(dtype),
        randn(b, t_kv, h, vd).to(dtype),
        randn(b, t_q, hq, k, scale=0.25),
        randn(b, nc, hq, k, scale=0.25),
        -torch.rand(b, t_kv, hq, generator=gen).cumsum(1) * 0.05,
        randn(hq),
    )


# fp16/bf16: the kernel rounds two dot operands to the input dtype, q rescaled by 2^(p - R)
# (before q . k_tilde) and the probabilities P (before P @ v), where the policy assumes exact
# operands (issue 26 item 5). Each rounding is relative u (2**-11 fp16, 2**-8 bf16) per
# element: P's perturbs o by at most u * max|v|, q's moves each score by about u * |s| and with
# it lse (log2 units) and o. Allowed: o 8u absolute and relative, lse 16u absolute (|v| and |s|
# are O(1) for these inputs). Measured by kcheck on small shapes: o 3.6e-4 (0.7u) fp16, 2.7e-3
# (0.7u) bf16; lse 4.3e-4 (0.9u) fp16, 1.8e-3 (0.5u) bf16.
U = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}
REASON = "q rescaled and P rounded to the input dtype inside the kernel before its two dots"
O_TOL = {dt: Tolerance(8 * u, 8 * u, reason=REASON) for dt, u in U.items()}
LSE_TOL = {dt: Tolerance(0.0, 16 * u, reason=REASON) for dt, u in U.items()}

SPEC = TritonSpec(
    name="fla_wall_attn_decode",
    kernel=TritonKernel(parallel_wall_attn_decode_kernel, launch),
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(2, 16, 2048, 8, 2, 128, 128), (1, 5, 1000, 4, 4, 64, 64)],
    small_shapes=[(1, 3, 40, 2, 1, 16, 16), (2, 1, 70, 2, 2, 32, 16)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    reduction_length=lambda shape: shape[2],
    # fla's tl.dot calls keep Triton's default input_precision, tf32 for fp32 operands on GPUs
    # (the CPU interpreter's dots are exact fp32). Without it the H100 run of 2026-12-06 found
    # every fp32 case off by up to 1.5e-3 against the ieee policy (docs/fla-kernels.md).
    dot_precision={torch.float32: "tf32"},
    outputs=[Output("o", tolerances=O_TOL), Output("lse", dtype=torch.float32, tolerances=LSE_TOL)],
)
