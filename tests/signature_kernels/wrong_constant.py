"""One bug in one kernel, for tests/test_signatures.py: ``add_one`` adds 1.05 where its
reference adds 1.

Run over two ranks of small shapes, three float dtypes and several configs on CPU (under the
interpreter), the one wrong constant fails every case with messages whose numbers differ in
value and in format: ``(100%)`` of the elements in fp32 and ``(96.9%)`` in bf16,
``rtol=1.3e-06``, ``rtol=0.001`` and ``rtol=0.016``, worst elements at ``(977,)`` and
``(12, 3)``. Before issue 25 that was 6 signatures and 6 groups; it must be one. (1.05, not
1.001: bf16 output rounding would make 1.001 pass some elements of some cases.)
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, GoldenTracking, KernelSpec


@helion.kernel(static_shapes=True)
def add_one(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] + 1.05  # the bug: the reference adds 1
    return out


def make_inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(shape, generator=gen).to(dtype),)


def reference(x: torch.Tensor) -> torch.Tensor:
    return x + 1


SPEC = KernelSpec(
    name="add_one",
    kernel=add_one,
    reference=reference,
    make_inputs=make_inputs,
    shapes=[],
    small_shapes=[(1000,), (33, 65)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={"default": DEFAULT},
    golden=GoldenTracking(enabled=False),  # a fault kernel, not a codegen regression to track
)
