"""Stores whose active lanes hit one address, under the Triton interpreter with the checker's
patches (TRITON_INTERPRET=1): different values are a write-write race (the pattern of Helion's
moe_matmul_ogs example, whose lanes past an expert's token count store a stale value to the
expert's first token), reported as StoreRace; the same value from several lanes is not. Prints
JSON: the race's exception text (or null) and whether the same-value store ran."""

from __future__ import annotations

import json
import sys

import torch
import triton
import triton.language as tl

from checker import interpreter


@triton.jit
def clamp_store(out_ptr, n, SAME: tl.constexpr, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    offs = tl.arange(0, BLOCK)
    valid = offs < n
    index = tl.where(valid, offs, 0)  # lanes past n redirected to element 0
    value = tl.where(valid, offs.to(tl.float32) + 1.0, 1.0 if SAME else -1.0)
    tl.store(out_ptr + index, value)


def main() -> int:
    interpreter.install_shims(object())
    out = torch.zeros(16)
    clamp_store[(1,)](out, 10, SAME=True, BLOCK=16)
    same_ok = bool(torch.equal(out[:10], torch.arange(1, 11, dtype=torch.float32)))
    race = None
    try:
        clamp_store[(1,)](torch.zeros(16), 10, SAME=False, BLOCK=16)
    except Exception as exc:
        race = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"race": race, "same_value_ok": same_ok}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
