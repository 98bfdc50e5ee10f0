"""Cross-entropy loss per row: ``loss[i] = logsumexp(logits[i, :]) - logits[i, labels[i]]``.

Shape convention: ``(N, V)``: ``logits`` is ``[N, V]`` (N rows over a vocabulary of V classes)
and ``labels`` is int64 ``[N]`` with values in ``[0, V)``. The kernel returns the per-row losses
``[N]`` (not their mean, so a wrong row shows up in the comparison) in the logits' dtype; the
log-sum-exp is computed in fp32 with the row maximum subtracted.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


@helion.kernel(static_shapes=True)
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    n, v = logits.size()
    losses = torch.empty([n], dtype=logits.dtype, device=logits.device)
    flat_logits = logits.view(-1)
    for rows in hl.tile(n):
        row_logits = logits[rows, :].to(torch.float32)
        peak = torch.amax(row_logits, dim=-1)
        sum_exp = torch.sum(torch.exp(row_logits - peak[:, None]), dim=-1)
        log_z = peak + torch.log(sum_exp)
        target = flat_logits[rows.index * v + labels[rows]].to(torch.float32)
        losses[rows] = (log_z - target).to(losses.dtype)
    return losses


def cross_entropy_reference(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, labels, reduction="none")


def reduction_length(shape: tuple[int, ...]) -> int:
    """V: the log-sum-exp sums V exponentials per row."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n, v = shape
    # Logits with std 2: peaked enough that losses vary between rows, no overflow in fp16.
    logits = torch.randn((n, v), generator=generator, dtype=torch.float32) * 2.0
    labels = torch.randint(0, v, (n,), generator=generator, dtype=torch.int64)
    return logits.to(dtype), labels


SPEC = KernelSpec(
    name="cross_entropy",
    kernel=cross_entropy,
    reference=cross_entropy_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    shapes=[(4096, 32000), (2048, 50257)],
    small_shapes=[(8, 100), (3, 33), (2, 1000)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One row per program, vocabulary looped in 2048-wide chunks, 8 warps.
        "one_row": helion.Config(block_sizes=[1], reduction_loops=[2048], num_warps=8),
        # Four rows per program, vocabulary looped in 64-wide chunks (loops on small shapes too).
        "narrow": helion.Config(block_sizes=[4], reduction_loops=[64], num_warps=4),
    },
    description="per-row cross-entropy loss from logits and int64 labels",
)
