"""Row softmax: ``out[i, :] = softmax(x[i, :])`` over the last dimension of a 2-D tensor.

Shape convention: ``(M, N)`` is the shape of ``x``; the softmax runs over the ``N`` columns of
each of the ``M`` rows. The kernel computes in fp32 (max-subtracted for stability) and returns
the result in the input dtype.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def softmax(x: torch.Tensor) -> torch.Tensor:
    m = x.size(0)
    out = torch.empty_like(x)
    for rows in hl.tile(m):
        vals = x[rows, :].to(torch.float32)
        peak = torch.amax(vals, dim=1, keepdim=True)
        shifted = torch.exp(vals - peak)
        denom = torch.sum(shifted, dim=1, keepdim=True)
        out[rows, :] = (shifted / denom).to(out.dtype)
    return out


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def reduction_length(shape: tuple[int, ...]) -> int:
    """N: the denominator sums N exponentials per row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    # Logits with std 3: a spread of probabilities without overflowing fp16/bf16.
    x = torch.randn(shape, generator=generator, dtype=torch.float32) * 3.0
    return (x.to(dtype),)


SPEC = KernelSpec(
    name="softmax",
    kernel=softmax,
    reference=softmax_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    shapes=[(4096, 2048), (1024, 4096), (1000, 3000)],
    small_shapes=[(4, 64), (33, 100), (1, 7)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One row per program, whole row resident (persistent reduction).
        "one_row": helion.Config(block_sizes=[1], num_warps=8),
        # Eight rows per program, reduction looped in 32-column chunks (also loops on the
        # small shapes wider than 32 columns, so the interpreter covers the looped code).
        "looped": helion.Config(block_sizes=[8], reduction_loops=[32], num_warps=4),
    },
    description="row softmax over the last dim of a 2-D tensor",
)
