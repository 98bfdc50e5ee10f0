"""SwiGLU gate: ``out = silu(a) * b = a * sigmoid(a) * b``, elementwise.

Shape convention: ``(M, N)`` is the shape of both ``a`` and ``b`` (and of the output). The
product is computed in fp32; the output has the input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def swiglu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(a)
    for tile in hl.tile(a.size()):
        gate = a[tile].to(torch.float32)
        up = b[tile].to(torch.float32)
        out[tile] = (gate * torch.sigmoid(gate) * up).to(out.dtype)
    return out


def swiglu_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.silu(a) * b


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.randn(shape, generator=generator, dtype=torch.float32) * 2.0
    b = torch.randn(shape, generator=generator, dtype=torch.float32)
    return a.to(dtype), b.to(dtype)


SPEC = KernelSpec(
    name="swiglu",
    kernel=swiglu,
    reference=swiglu_reference,
    make_inputs=make_inputs,
    shapes=[(4096, 11008), (1000, 1001)],
    small_shapes=[(17, 64), (3, 5)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # Row strips: 1 x 1024 per program, 4 warps.
        "row_strip": helion.Config(block_sizes=[1, 1024], num_warps=4),
        # 32 x 32 tiles through block pointers, 2 warps.
        "square_block_ptr": helion.Config(block_sizes=[32, 32], indexing="block_ptr", num_warps=2),
    },
    description="elementwise silu(a) * b",
)
