"""flash-linear-attention's chunked cumulative-sum kernels, checked through kcheck launchers.

Source: fla-core 0.6.0 from PyPI, ``fla/ops/utils/cumsum.py``
(https://github.com/fla-org/flash-linear-attention). License: MIT, Copyright (c) 2023-2026
Songlin Yang, Yu Zhang, Zhiyuan Li (copy in ../LICENSE-fla-core). The kernels are imported from
the installed package, never copied. These are the gate cumsums of fla's chunked linear
attention: fp32 outputs whatever the input dtype.

Wrapper kinds:

- ``fla_cumsum_local``: ``chunk_local_cumsum_scalar_kernel``, ``@triton.heuristics``
  (HAS_SCALE, IS_VARLEN) over fla's ``CachedAutotuner`` (4 configs: num_warps) over jit;
  reversed, scaled, batched (B sequences of T).
- ``fla_cumsum_local_vector_varlen``: ``chunk_local_cumsum_vector_kernel``, the same stack (6
  configs: BS x num_warps; BS is [16, 32] where fla finds no GPU or little shared memory, [32,
  64] on an H100), over packed variable-length sequences (``cu_seqlens`` and fla's
  ``chunk_indices``).
- ``fla_cumsum_global_varlen``: ``chunk_global_cumsum_scalar_kernel``, ``@triton.heuristics``
  over ``@triton.autotune`` (48 configs: BT x num_warps x num_stages) over jit, varlen.

Shapes: (B, T, H) for the batched kernel, (T, H) or (T, H, S) packed for the varlen ones
(three sequences of lengths about T/5, T/2 and the rest). Integer inputs (``cu_seqlens``,
``chunk_indices``) are inputs, not computed in the launcher, so the launcher reads only shapes.
"""

from itertools import pairwise

import torch
from fla.ops.utils.cumsum import (
    chunk_global_cumsum_scalar_kernel,
    chunk_local_cumsum_scalar_kernel,
    chunk_local_cumsum_vector_kernel,
)
from fla.ops.utils.index import prepare_chunk_indices
from triton import cdiv

from checker.triton_spec import TritonKernel, TritonSpec

CHUNK = 64
VCHUNK = 32
SCALE = 0.5
F32 = torch.float32


def launch_local(kernel, g):
    """fla's ``chunk_local_cumsum_scalar(g, CHUNK, reverse=True, scale=SCALE)``."""
    b, t, h = g.shape
    o = torch.empty_like(g, dtype=F32)
    kernel[(cdiv(t, CHUNK) * b * h,)](
        s=g, o=o, scale=SCALE, cu_seqlens=None, chunk_indices=None, T=t, B=b, H=h, BT=CHUNK,
        REVERSE=True, USE_GRAPH=False,
    )  # fmt: skip
    return o


def ref_local(g):
    b, t, h = g.shape
    x = torch.nn.functional.pad(g, (0, 0, 0, cdiv(t, CHUNK) * CHUNK - t)).view(b, -1, CHUNK, h)
    rev = x.flip(2).cumsum(2).flip(2) * SCALE
    return rev.view(b, -1, h)[:, :t]


def _cu_seqlens(t):
    return torch.tensor([0, max(1, t // 5), max(2, t // 5 + t // 2), t], dtype=torch.int32)


def launch_local_vector_varlen(kernel, g, cu_seqlens, chunk_indices):
    """fla's ``chunk_local_cumsum_vector(g, VCHUNK, cu_seqlens=...)`` (B == 1, packed)."""
    b, t, h, s = g.shape
    nt = chunk_indices.shape[0]
    o = torch.empty_like(g, dtype=F32)
    kernel[lambda meta: (cdiv(s, meta["BS"]) * nt, b * h)](
        s=g, o=o, scale=None, cu_seqlens=cu_seqlens, chunk_indices=chunk_indices, T=t, B=b, H=h,
        S=s, BT=VCHUNK, REVERSE=False, USE_GRAPH=False,
    )  # fmt: skip
    return o


def _segments(cu_seqlens):
    bounds = cu_seqlens.tolist()
    return list(pairwise(bounds))


def ref_local_vector_varlen(g, cu_seqlens, chunk_indices):
    out = torch.empty_like(g, dtype=torch.float64)
    for bos, eos in _segments(cu_seqlens):
        for start in range(bos, eos, VCHUNK):
            end = min(start + VCHUNK, eos)
            out[:, start:end] = g[:, start:end].cumsum(1)
    return out


def make_local(shape, dtype, gen):
    return (torch.randn(*shape, generator=gen).to(dtype),)


def make_vector_varlen(shape, dtype, gen):
    t, h, s = shape
    cu = _cu_seqlens(t)
    return torch.randn(1, t, h, s, generator=gen).to(dtype), cu, prepare_chunk_indices(cu, VCHUNK)


def launch_global_varlen(kernel, s, cu_seqlens):
    """fla's ``chunk_global_cumsum_scalar(s, cu_seqlens=...)`` (B == 1, packed)."""
    b, t, h = s.shape
    n = cu_seqlens.shape[0] - 1
    z = torch.empty_like(s, dtype=F32)
    kernel[(n * h,)](s=s, o=z, scale=None, cu_seqlens=cu_seqlens, T=t, B=b, H=h, REVERSE=False)
    return z


def ref_global_varlen(s, cu_seqlens):
    out = torch.empty_like(s, dtype=torch.float64)
    for bos, eos in _segments(cu_seqlens):
        out[:, bos:eos] = s[:, bos:eos].cumsum(1)
    return out


def make_global_varlen(shape, dtype, gen):
    t, h = shape
    return torch.randn(1, t, h, generator=gen).to(dtype), _cu_seqlens(t)


DTYPES = [torch.float32, torch.float16, torch.bfloat16]

SPECS = [
    TritonSpec(
        name="fla_cumsum_local",
        kernel=TritonKernel(chunk_local_cumsum_scalar_kernel, launch_local),
        reference=ref_local,
        make_inputs=make_local,
        shapes=[(8, 4096, 16), (3, 1000, 7)],
        small_shapes=[(2, 100, 3), (1, 64, 2)],
        dtypes=DTYPES,
        output_dtypes={d: F32 for d in DTYPES},
        reduction_length=lambda shape: CHUNK,
    ),
    TritonSpec(
        name="fla_cumsum_local_vector_varlen",
        kernel=TritonKernel(chunk_local_cumsum_vector_kernel, launch_local_vector_varlen),
        reference=ref_local_vector_varlen,
        make_inputs=make_vector_varlen,
        shapes=[(8192, 16, 128), (3001, 4, 100)],
        small_shapes=[(70, 2, 20), (40, 1, 8)],
        dtypes=DTYPES,
        output_dtypes={d: F32 for d in DTYPES},
        reduction_length=lambda shape: VCHUNK,
    ),
    TritonSpec(
        name="fla_cumsum_global_varlen",
        kernel=TritonKernel(chunk_global_cumsum_scalar_kernel, launch_global_varlen),
        reference=ref_global_varlen,
        make_inputs=make_global_varlen,
        shapes=[(8192, 16), (3001, 7)],
        small_shapes=[(70, 2), (40, 3)],
        dtypes=DTYPES,
        output_dtypes={d: F32 for d in DTYPES},
        reduction_length=lambda shape: shape[0],
    ),
]
