"""A tensor-descriptor load (TMA; the interpreter's ``create_descriptor_load`` calls
``create_masked_load`` with keyword options) under the Triton interpreter with the checker's
patches (TRITON_INTERPRET=1): the out-of-bounds load patch once refused the keywords, and every
such kernel (Helion's fp8_matmul example with ``indexing='tensor_descriptor'``) raised TypeError,
recorded as the kernel's runtime-error. Prints the max abs error as JSON."""

from __future__ import annotations

import json
import sys

import torch
import triton
import triton.language as tl

from checker import interpreter


@triton.jit
def scaled_copy(x_ptr, out_ptr, n, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    desc = tl.make_tensor_descriptor(x_ptr, shape=[n], strides=[1], block_shape=[BLOCK])
    start = tl.program_id(0) * BLOCK
    x = desc.load([start])
    offs = start + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, x * 2.0, mask=offs < n)


def main() -> int:
    interpreter.install_shims(object())
    x = torch.randn(100)
    out = torch.empty_like(x)
    scaled_copy[(4,)](x, out, 100, BLOCK=32)
    print(json.dumps({"max_abs_err": float((out - 2 * x).abs().max())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
