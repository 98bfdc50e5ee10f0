"""fp32 -> fp8 (e4m3fn, e5m2) conversions inside a kernel under the Triton interpreter
(TRITON_INTERPRET=1), with or without the checker's patches (``--unpatched``): prints, as JSON,
how many of 65536 values (randn x 100, plus the values at the rounding carry and past the finite
range) differ from the GPU's rounding (nearest even, saturated to the largest finite value)."""

from __future__ import annotations

import json
import sys

import torch
import triton
import triton.language as tl

from checker import interpreter


@triton.jit
def to_fp8(x_ptr, e4_ptr, e5_ptr, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(e4_ptr + offs, x.to(tl.float8e4nv))
    tl.store(e5_ptr + offs, x.to(tl.float8e5))


def main(argv: list[str]) -> int:
    if "--unpatched" not in argv:
        interpreter.install_shims(object())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(65536, generator=gen) * 100
    x[:6] = torch.tensor([1.9398, 0.4922, 500.0, -1e6, 60000.0, float("inf")])
    e4 = torch.empty(65536, dtype=torch.float8_e4m3fn)
    e5 = torch.empty(65536, dtype=torch.float8_e5m2)
    to_fp8[(65536 // 1024,)](x, e4, e5, BLOCK=1024)
    want4 = x.clamp(-448, 448).to(torch.float8_e4m3fn)
    want5 = x.clamp(-57344, 57344).to(torch.float8_e5m2)
    wrong = {
        "e4m3": int((e4.view(torch.uint8) != want4.view(torch.uint8)).sum()),
        "e5m2": int((e5.view(torch.uint8) != want5.view(torch.uint8)).sum()),
    }
    print(json.dumps(wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
