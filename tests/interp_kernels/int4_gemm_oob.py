"""Helion v1.4.0's int4 GEMM (tests/helion_examples/specs/int4_gemm.py) at M x K x N = 5 x 34 x 7,
default config, with A's storage followed by NaN bytes that belong to no tensor: the kernel's
unmasked K range reads 30 of them for A's last row (and multiplies them by B rows masked to 0).

Run as a script under TRITON_INTERPRET=1 (the tests run it in a subprocess):
``python tests/interp_kernels/int4_gemm_oob.py [--no-oob-patch]`` prints one JSON object:
{"nan": NaN outputs, "max_abs_err": against the reference}. Without ``--no-oob-patch`` every
checker interpreter patch is installed; with it, all but the out-of-bounds load one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np
import torch

from checker import interpreter

M, K, N = 5, 34, 7


def main(argv: list[str]) -> int:
    if "--no-oob-patch" in argv:
        interpreter._patch_bf16_dot()
        interpreter._patch_bf16_arith()
    else:
        interpreter.install_shims(object())
    path = Path(__file__).parent.parent / "helion_examples" / "specs" / "int4_gemm.py"
    spec = importlib.util.spec_from_file_location("int4_gemm_spec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = module.make_inputs((M, K, N), torch.bfloat16, torch.Generator().manual_seed(0))
    # A numpy buffer of A's bits and 64 bf16 NaNs (0x7FC0) after them; torch's storage of the
    # slice ends at A's last element, so the NaNs lie outside every tensor of the launch.
    heap = np.full(M * K + 64, 0x7FC0, dtype=np.uint16)
    a_heap = torch.from_numpy(heap[: M * K]).view(torch.bfloat16).view(M, K)
    a_heap.copy_(a)
    kernel = module.matmul_bf16_int4
    bound = kernel.bind((a_heap, b))
    out = bound.compile_config(bound.config_spec.default_config(), allow_print=False)(a_heap, b)
    ref = module.int4_gemm_reference(a, b)
    err = (out.float() - ref.float()).abs().nan_to_num(float("inf"))
    print(json.dumps({"nan": int(out.isnan().sum()), "max_abs_err": float(err.max())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
