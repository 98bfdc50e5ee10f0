"""Small real Triton kernels that hit each measured bf16 gap of the Triton 3.6 interpreter.

Run as a script (TRITON_INTERPRET must be set before triton is imported, so the tests run it in
a subprocess): ``python tests/interp_kernels/bf16_ops.py [--no-patch]`` prints one JSON object,
case name -> {"ok": bool, "got": str, "expected": str}. ``ok`` compares the interpreter's result
with torch's CPU result, which widens bf16 to fp32 and rounds to nearest even as a GPU does.
Without ``--no-patch`` the checker's interpreter patches are installed first.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

os.environ["TRITON_INTERPRET"] = "1"

import torch
import triton
import triton.language as tl

BF16 = torch.bfloat16
N = 8


@triton.jit
def _sum_kernel(x, out, N: tl.constexpr):
    tl.store(out, tl.sum(tl.load(x + tl.arange(0, N)), axis=0))


@triton.jit
def _double_kernel(x, out, N: tl.constexpr):
    v = tl.load(x + tl.arange(0, N))
    tl.store(out + tl.arange(0, N), v + v)


@triton.jit
def _mul_scalar_kernel(x, out, N: tl.constexpr):
    v = tl.load(x + tl.arange(0, N))
    tl.store(out + tl.arange(0, N), v * 3.0 - 0.5)


@triton.jit
def _to_bf16_kernel(x, out, N: tl.constexpr):
    tl.store(out + tl.arange(0, N), tl.load(x + tl.arange(0, N)).to(tl.bfloat16))


@triton.jit
def _to_int_kernel(x, out, N: tl.constexpr):
    tl.store(out + tl.arange(0, N), tl.load(x + tl.arange(0, N)).to(tl.int32))


@triton.jit
def _to_fp16_kernel(x, out, N: tl.constexpr):
    tl.store(out + tl.arange(0, N), tl.load(x + tl.arange(0, N)).to(tl.float16))


@triton.jit
def _less_kernel(x, y, out, N: tl.constexpr):
    r = tl.arange(0, N)
    tl.store(out + r, (tl.load(x + r) < tl.load(y + r)).to(tl.int32))


@triton.jit
def _leaky_kernel(x, out, N: tl.constexpr):
    r = tl.arange(0, N)
    v = tl.load(x + r)
    tl.store(out + r, tl.where(v > 0, v, -v * 0.5))


@triton.jit
def _full_kernel(x, out, N: tl.constexpr):
    r = tl.arange(0, N)
    tl.store(out + r, tl.load(x + r) + tl.full([N], 1.5, tl.bfloat16))


@triton.jit
def _max_combine(a, b):
    return tl.where(a > b, a, b)


@triton.jit
def _add_combine(a, b):
    return a + b


@triton.jit
def _reduce_max_kernel(x, out, N: tl.constexpr):
    tl.store(out, tl.reduce(tl.load(x + tl.arange(0, N)), 0, _max_combine))


@triton.jit
def _scan_kernel(x, out, N: tl.constexpr):
    r = tl.arange(0, N)
    tl.store(out + r, tl.associative_scan(tl.load(x + r), 0, _add_combine))


@triton.jit
def _atomic_add_kernel(x, out, N: tl.constexpr):
    # Every lane adds into the same element: each must see the previous lanes' sum.
    tl.atomic_add(out + tl.zeros([N], tl.int32), tl.load(x + tl.arange(0, N)))


def _launch(kernel: Callable[..., object], *args: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    kernel[(1,)](*args, out, N=N)
    return out


def cases() -> dict[str, tuple[Callable[[], torch.Tensor], torch.Tensor]]:
    """Case name -> (run the kernel, torch's CPU result)."""
    # Exact in bf16 and adding up to 11.75, so any order gives the same sum.
    x = torch.tensor([1.5, 2.25, 3.0, 5.0, -0.5, 0.25, -1.0, 1.25], dtype=BF16)
    y = torch.tensor([1.0, -2.0, 3.0, -6.0, 0.5, 0.0, -2.0, 2.0], dtype=BF16)
    ints = torch.tensor([-8, 3, 7, 1000, 257, -259, 33023, 0], dtype=torch.int32)
    # Ties (1 + 2**-8, 1 + 3 * 2**-8) and values that truncation rounds the wrong way.
    f32 = torch.tensor([1 + 2**-8, 1 + 3 * 2**-8, 1.0059, -3.3, 1e-3, 7.0, -1e30, 0.1], dtype=torch.float32)
    neg = torch.tensor([-3.0, -1.5, -7.25, -0.5, -2.0, -9.0, -4.0, -1.0], dtype=BF16)
    return {
        "sum": (
            lambda: _launch(_sum_kernel, x, out=torch.empty(1, dtype=BF16)),
            x.float().sum().to(BF16)[None],
        ),
        "add": (lambda: _launch(_double_kernel, x, out=torch.empty(N, dtype=BF16)), x + x),
        "mul_scalar": (lambda: _launch(_mul_scalar_kernel, x, out=torch.empty(N, dtype=BF16)), x * 3.0 - 0.5),
        "int32_to_bf16": (
            lambda: _launch(_to_bf16_kernel, ints, out=torch.empty(N, dtype=BF16)),
            ints.to(BF16),
        ),
        "fp32_to_bf16": (lambda: _launch(_to_bf16_kernel, f32, out=torch.empty(N, dtype=BF16)), f32.to(BF16)),
        "bf16_to_int32": (
            lambda: _launch(_to_int_kernel, x * 3, out=torch.empty(N, dtype=torch.int32)),
            (x * 3).to(torch.int32),
        ),
        "bf16_to_fp16": (
            lambda: _launch(_to_fp16_kernel, x, out=torch.empty(N, dtype=torch.float16)),
            x.to(torch.float16),
        ),
        "fp16_to_bf16": (
            lambda: _launch(_to_bf16_kernel, f32.to(torch.float16), out=torch.empty(N, dtype=BF16)),
            f32.to(torch.float16).to(BF16),
        ),
        "less": (
            lambda: _launch(_less_kernel, x, y, out=torch.empty(N, dtype=torch.int32)),
            (x < y).to(torch.int32),
        ),
        "select_negate": (
            lambda: _launch(_leaky_kernel, x, out=torch.empty(N, dtype=BF16)),
            torch.where(x > 0, x, -x * 0.5),
        ),
        "full_constant": (lambda: _launch(_full_kernel, x, out=torch.empty(N, dtype=BF16)), x + 1.5),
        "reduce_max": (
            lambda: _launch(_reduce_max_kernel, neg, out=torch.empty(1, dtype=BF16)),
            neg.max()[None],
        ),
        "associative_scan": (
            lambda: _launch(_scan_kernel, x, out=torch.empty(N, dtype=BF16)),
            x.float().cumsum(0).to(BF16),
        ),
        "atomic_add": (
            lambda: _launch(_atomic_add_kernel, x, out=torch.zeros(1, dtype=BF16)),
            x.float().sum().to(BF16)[None],
        ),
    }


def main(argv: list[str]) -> int:
    if "--no-patch" not in argv:
        from checker import interpreter

        interpreter.install_shims(object())
    results = {}
    for name, (run, expected) in cases().items():
        try:
            got = run()
            ok = got.shape == expected.shape and bool(torch.equal(got, expected))
            results[name] = {"ok": ok, "got": str(got.tolist()), "expected": str(expected.tolist())}
        except Exception as exc:  # a gap may raise instead of returning garbage
            results[name] = {
                "ok": False,
                "got": f"{type(exc).__name__}: {exc}",
                "expected": str(expected.tolist()),
            }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
