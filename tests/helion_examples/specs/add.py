# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/add.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `add` is copied verbatim (between `fmt: off/on`); dropped
# `check()` and `main()`; added this header, the module docstring, the reference, make_inputs
# and SPEC.
"""Broadcasting add (Helion example ``add``): ``x + y`` with torch's broadcasting rules.

Shape convention: ``(M, N)``: ``x`` is ``[M, N]`` and ``y`` is ``[N]``, broadcast over the rows
(``torch.broadcast_tensors`` inside the kernel gives ``y`` a stride-0 row dimension).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel()
def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """
    Add two tensors element-wise with broadcasting support.

    Args:
        x: First input tensor
        y: Second input tensor

    Returns:
        A new tensor containing the element-wise sum of x and y
    """
    # match pytorch broadcasting rules
    x, y = torch.broadcast_tensors(x, y)
    out = torch.empty(
        x.shape,
        # match type promotion of torch.add
        dtype=torch.promote_types(x.dtype, y.dtype),
        device=x.device,
    )
    # tile will be a tuple of blocks
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out
# fmt: on


def add_reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = shape
    x = torch.randn((m, n), generator=generator)
    y = torch.randn((n,), generator=generator)
    return x.to(dtype), y.to(dtype)


SPEC = KernelSpec(
    name="ex_add",
    kernel=add,
    reference=add_reference,
    make_inputs=make_inputs,
    shapes=[(4096, 4096), (1000, 1023)],
    small_shapes=[(16, 64), (5, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # 2-D tiles of 4 x 32 (partial tiles in both dimensions on (5, 100)).
        "tile_4x32": helion.Config(block_sizes=[4, 32], num_warps=2),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: add with a broadcast row vector",
)
