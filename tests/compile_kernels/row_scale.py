"""A Helion kernel bound to an expanded input (a per-row scale ``expand``-ed over the columns,
stride 0), as Helion's fp8_matmul example's scales are: tests/test_compile.py runs it on the
checker's copies of its inputs (checker.prepare.clone)."""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def row_scale(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile_m, tile_n in hl.tile(x.size()):
        out[tile_m, tile_n] = x[tile_m, tile_n] * scale[tile_m, tile_n]
    return out
