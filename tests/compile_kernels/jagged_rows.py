"""A Helion kernel whose host code reads an integer input's values, as Helion's jagged examples do
(``int(x_offsets[-1].item())``): tests/test_compile.py compiles it in a compile worker."""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def jagged_rows(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    n = int(offsets[-1].item())
    out = torch.empty([n], dtype=x.dtype, device=x.device)  # garbage n: petabytes asked for
    for tile in hl.tile(n):
        out[tile] = x[tile] * 2.0
    return out
