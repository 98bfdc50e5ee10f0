"""flash-linear-attention's small utility kernels (softmax, log-sum-exp, chunk mean pooling,
addmm), checked through kcheck launchers.

Source: fla-core 0.6.0 from PyPI, ``fla/ops/utils/`` (``softmax.py``, ``logsumexp.py``,
``pooling.py``, ``matmul.py``; https://github.com/fla-org/flash-linear-attention). License:
MIT, Copyright (c) 2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li (copy in ../LICENSE-fla-core).
The kernels are imported from the installed package, never copied.

Wrapper kinds:

- ``fla_softmax``: ``softmax_fwd_kernel``, ``@triton.autotune`` (6 configs: num_warps only,
  no kwargs) over jit; a row kernel, the launcher passes B = next_pow2(D) as fla does.
- ``fla_logsumexp``: ``logsumexp_fwd_kernel``, ``@triton.heuristics`` (HAS_SCALE) over
  ``@triton.autotune`` (6 configs) over jit; the launcher combines the per-block partials on the
  host as fla's ``logsumexp_fwd`` does.
- ``fla_mean_pooling_varlen``: ``mean_pooling_fwd_kernel``, ``@triton.heuristics`` (IS_VARLEN)
  over ``@triton.autotune`` (16 configs: BD x num_warps), packed variable-length sequences.
- ``fla_addmm``: ``matmul_kernel``, ``@triton.heuristics`` (HAS_ALPHA, HAS_BETA from whether
  the ``alpha`` / ``beta`` pointers are given) over ``@triton.autotune`` (8 configs: BM, BK, BN,
  G, warps, stages); c = alpha * (a @ b) + beta * x with a bias row x, as fla's ``addmm`` but
  with alpha and beta as one-element tensors: the kernel ``tl.load``s them.
"""

from itertools import pairwise

import torch
from fla.ops.utils.index import prepare_chunk_indices
from fla.ops.utils.logsumexp import logsumexp_fwd_kernel
from fla.ops.utils.matmul import matmul_kernel
from fla.ops.utils.pooling import mean_pooling_fwd_kernel
from fla.ops.utils.softmax import softmax_fwd_kernel
from triton import cdiv, next_power_of_2

from checker.spec import Output
from checker.triton_spec import TritonKernel, TritonSpec

F32 = torch.float32
SCALE = 0.5
POOL_CHUNK = 16


def launch_softmax(kernel, x):
    """fla's ``softmax_fwd(x)`` (fp32 probabilities)."""
    n, d = x.shape
    p = torch.empty_like(x, dtype=F32)
    kernel[(n,)](x=x, p=p, D=d, B=next_power_of_2(d))
    return p


def ref_softmax(x):
    return torch.softmax(x, -1)


def launch_logsumexp(kernel, x):
    """fla's ``logsumexp_fwd(x, scale=SCALE)``."""
    n, d = x.shape
    b = min(next_power_of_2(d), 64 * 1024)
    nd = cdiv(d, b)
    z = torch.empty(n, nd, dtype=F32, device=x.device)
    kernel[(n, nd)](x=x, z=z, scale=SCALE, D=d, B=b)
    return z.logsumexp(-1)


def ref_logsumexp(x):
    return torch.logsumexp(x * SCALE, -1)


def make_rows(shape, dtype, gen):
    return ((3 * torch.randn(*shape, generator=gen)).to(dtype),)


def _cu_seqlens(t):
    return torch.tensor([0, max(1, t // 5), max(2, t // 5 + t // 2), t], dtype=torch.int32)


def launch_mean_pooling(kernel, x, cu_seqlens, chunk_indices):
    """fla's ``mean_pooling_fwd(x, POOL_CHUNK, cu_seqlens=...)``: one mean per chunk of each
    sequence (B == 1, packed)."""
    b, t, h, d = x.shape
    nt = chunk_indices.shape[0]
    o = x.new_empty(b, nt, h, d)
    kernel[lambda meta: (cdiv(d, meta["BD"]) * nt, b * h)](
        x, o, cu_seqlens, chunk_indices, T=t, H=h, D=d, BT=POOL_CHUNK
    )
    return o


def ref_mean_pooling(x, cu_seqlens, chunk_indices):
    bounds = cu_seqlens.tolist()
    means = []
    for bos, eos in pairwise(bounds):
        for start in range(bos, eos, POOL_CHUNK):
            means.append(x[:, start : min(start + POOL_CHUNK, eos)].mean(1))
    return torch.stack(means, 1).to(x.dtype)


def make_pooling(shape, dtype, gen):
    t, h, d = shape
    cu = _cu_seqlens(t)
    return torch.randn(1, t, h, d, generator=gen).to(dtype), cu, prepare_chunk_indices(cu, POOL_CHUNK)


def launch_addmm(kernel, a, b, x, alpha, beta):
    """fla's ``addmm(x, a, b, alpha, beta)`` for a 2-D ``a`` and a bias row ``x`` (X_DIM 1)."""
    m, k = a.shape
    n = b.shape[1]
    a3 = a.unsqueeze(0)
    c = a.new_empty(1, m, n)
    kernel[lambda meta: (1, cdiv(m, meta["BM"]), cdiv(n, meta["BN"]))](
        a3, b, c, x, alpha, beta, m, n, k,
        a3.stride(0), a3.stride(1), a3.stride(2), b.stride(0), b.stride(1),
        c.stride(0), c.stride(1), c.stride(2),
        ACTIVATION=None, ALLOW_TF32=a.dtype != torch.float32, HAS_INPUT=True, X_DIM=1,
    )  # fmt: skip
    return c[0]


def ref_addmm(a, b, x, alpha, beta):
    # fp32 throughout and one rounding at the end, as the kernel does (fp32 accumulator and
    # epilogue): rounding a @ b to fp16 first put 5e-4 of error where alpha*ab cancels beta*x
    # (seen on an H100 at 4096^3 fp16, docs/fla-kernels.md).
    f = torch.float32
    return (alpha.to(f) * (a.to(f) @ b.to(f)) + beta.to(f) * x.to(f)).to(a.dtype)


def make_addmm(shape, dtype, gen):
    m, k, n = shape
    # a scaled by 1/sqrt(k) so c is of order one, as the tolerance policy assumes (numerics.md).
    return (
        (torch.randn(m, k, generator=gen) / k**0.5).to(dtype),
        torch.randn(k, n, generator=gen).to(dtype),
        torch.randn(n, generator=gen).to(dtype),
        torch.tensor([0.75]),
        torch.tensor([-1.5]),
    )


DTYPES = [torch.float32, torch.float16, torch.bfloat16]

SPECS = [
    TritonSpec(
        name="fla_softmax",
        kernel=TritonKernel(softmax_fwd_kernel, launch_softmax),
        reference=ref_softmax,
        make_inputs=make_rows,
        shapes=[(4096, 4096), (1000, 2731)],
        small_shapes=[(4, 96), (3, 70)],
        dtypes=DTYPES,
        output_dtypes={d: F32 for d in DTYPES},
        reduction_length=lambda shape: shape[1],
    ),
    TritonSpec(
        name="fla_logsumexp",
        kernel=TritonKernel(logsumexp_fwd_kernel, launch_logsumexp),
        reference=ref_logsumexp,
        make_inputs=make_rows,
        shapes=[(4096, 4096), (333, 100000)],
        small_shapes=[(4, 96), (3, 70)],
        dtypes=DTYPES,
        output_dtypes={d: F32 for d in DTYPES},
        reduction_length=lambda shape: shape[1],
    ),
    TritonSpec(
        name="fla_mean_pooling_varlen",
        kernel=TritonKernel(mean_pooling_fwd_kernel, launch_mean_pooling),
        reference=ref_mean_pooling,
        make_inputs=make_pooling,
        shapes=[(8192, 16, 128), (3001, 4, 100)],
        small_shapes=[(70, 2, 20), (40, 1, 8)],
        dtypes=DTYPES,
        reduction_length=lambda shape: POOL_CHUNK,
    ),
    TritonSpec(
        name="fla_addmm",
        kernel=TritonKernel(matmul_kernel, launch_addmm),
        reference=ref_addmm,
        make_inputs=make_addmm,
        shapes=[(4096, 4096, 4096), (1000, 777, 1500)],
        small_shapes=[(64, 48, 80), (33, 20, 17)],
        dtypes=DTYPES,
        reduction_length=lambda shape: shape[1],
        outputs=[Output("c")],
    ),
]
