"""Stores and atomics past the end of their tensor under the Triton interpreter with the
checker's patches (TRITON_INTERPRET=1). Unmasked, the interpreter wrote them into the host heap:
Helion's jagged_hstu_attn example (issue 28, seed 83) killed its case worker with SIGABRT on
CPU, where the H100's allocation slack took the same stores. Here the tensor is a window of a
larger Python buffer (``torch.frombuffer``: its storage is the window only), so bytes "outside
every tensor of the launch" are observable and safe to hit. ``--unpatched`` runs the stock
interpreter. Prints JSON: how many bytes after the window changed, and whether the in-bounds
part is right."""

from __future__ import annotations

import json
import sys

import torch
import triton
import triton.language as tl

from checker import interpreter

N = 100
SLACK = 256  # float32 elements after the window


@triton.jit
def fill_unmasked(out_ptr, counts_ptr, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, offs.to(tl.float32))  # BLOCK > N: the tail is past the window
    tl.atomic_add(counts_ptr + offs, 1.0)  # as far past the second window


def main() -> int:
    if "--unpatched" not in sys.argv:
        interpreter.install_shims(object())
    buf = bytearray(4 * (N + SLACK))
    counts_buf = bytearray(4 * (N + SLACK))
    out = torch.frombuffer(buf, dtype=torch.float32, count=N)
    counts = torch.frombuffer(counts_buf, dtype=torch.float32, count=N)
    fill_unmasked[(1,)](out, counts, BLOCK=256)
    changed = sum(1 for b in buf[4 * N :] if b) + sum(1 for b in counts_buf[4 * N :] if b)
    right = bool(torch.equal(out, torch.arange(N, dtype=torch.float32))) and bool((counts == 1).all())
    print(json.dumps({"changed_bytes_after": changed, "in_bounds_right": right}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
