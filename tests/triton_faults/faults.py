"""Plain Triton kernels that fail on purpose, one category each (tests/test_triton_spec.py).

Written for kcheck. Each config below really produces its category when compiled for sm_90 or
run; nothing is simulated:

* ``tri_numel``: BLOCK_SIZE 2**21 > Triton's 2**20-element tensor limit: ``numel-overflow``.
* ``tri_smem``: a 256x256x128 fp32 dot with 4 stages needs ~1 MiB of shared memory (sm_90
  allows 232448 bytes): ``out-of-resources``.
* ``tri_wrong``: the kernel adds 1 where the reference does not: ``numerical-mismatch``.
"""

import torch
import triton
import triton.language as tl

from checker.triton_spec import TritonKernel, TritonSpec


@triton.jit
def copy_kernel(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


def launch_copy(kernel, x, *, BLOCK_SIZE):
    y = torch.empty_like(x)
    kernel[(triton.cdiv(x.numel(), BLOCK_SIZE),)](x, y, x.numel(), BLOCK_SIZE=BLOCK_SIZE)
    return y


@triton.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        rk = k + tl.arange(0, BK)
        a = tl.load(
            a_ptr + rm[:, None] * K + rk[None, :], mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0
        )
        b = tl.load(
            b_ptr + rk[:, None] * N + rn[None, :], mask=(rk[:, None] < K) & (rn[None, :] < N), other=0.0
        )
        acc += tl.dot(a, b, input_precision="ieee")
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))


def launch_dot(kernel, a, b, *, BM, BN, BK):
    (m, k), n = a.shape, b.shape[1]
    c = torch.empty(m, n, dtype=torch.float32, device=a.device)
    kernel[(triton.cdiv(m, BM), triton.cdiv(n, BN))](a, b, c, m, n, k, BM=BM, BN=BN, BK=BK)
    return c


@triton.jit
def off_by_one_kernel(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    x = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(y_ptr + offs, x * 2 + 1, mask=offs < n)  # the bug: the reference is x * 2


def launch_off_by_one(kernel, x, *, BLOCK_SIZE):
    y = torch.empty_like(x)
    kernel[(triton.cdiv(x.numel(), BLOCK_SIZE),)](x, y, x.numel(), BLOCK_SIZE=BLOCK_SIZE)
    return y


def vector(shape, dtype, gen):
    return (torch.randn(shape, generator=gen).to(dtype),)


def matrices(shape, dtype, gen):
    m, n, k = shape
    # Scaled so outputs are of order one, as the tolerance policy's atol assumes: unscaled, the
    # H200's fp32 sums of 512 products (outputs ~22) missed atol on 13 near-zero elements.
    a = torch.randn(m, k, generator=gen) / k**0.5
    return a.to(dtype), torch.randn(k, n, generator=gen).to(dtype)


SPECS = [
    TritonSpec(
        name="tri_numel",
        kernel=TritonKernel(copy_kernel, launch_copy),
        reference=lambda x: x.clone(),
        make_inputs=vector,
        shapes=[(1 << 21,)],
        small_shapes=[(100,)],
        dtypes=[torch.float32],
        configs={"ok": triton.Config({"BLOCK_SIZE": 128}), "huge": triton.Config({"BLOCK_SIZE": 1 << 21})},
    ),
    TritonSpec(
        name="tri_smem",
        kernel=TritonKernel(dot_kernel, launch_dot),
        reference=lambda a, b: a @ b,
        make_inputs=matrices,
        shapes=[(512, 512, 512)],
        small_shapes=[(16, 16, 16)],
        dtypes=[torch.float32],
        configs={
            "small": triton.Config({"BM": 16, "BN": 16, "BK": 16}, num_warps=4, num_stages=1),
            "big": triton.Config({"BM": 256, "BN": 256, "BK": 128}, num_warps=8, num_stages=4),
        },
        reduction_length=lambda shape: shape[2],
    ),
    TritonSpec(
        name="tri_wrong",
        kernel=TritonKernel(off_by_one_kernel, launch_off_by_one),
        reference=lambda x: x * 2,
        make_inputs=vector,
        shapes=[(4096,)],
        small_shapes=[(64,)],
        dtypes=[torch.float32],
        configs={"b32": triton.Config({"BLOCK_SIZE": 32})},
    ),
]
