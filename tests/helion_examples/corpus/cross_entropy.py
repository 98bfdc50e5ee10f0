# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/cross_entropy.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `cross_entropy` is copied verbatim (between `fmt: off/on`);
# dropped `main()`; added this header, the module docstring, the reference, make_inputs and
# SPEC.
"""Mean cross-entropy loss (Helion example ``cross_entropy``) from logits and int64 labels.

Shape convention: ``(N, V)``: ``logits`` is ``[N, V]``, ``labels`` ``[N]`` (int64). The kernel
computes each row's loss in the logits' dtype and returns their mean, a 0-d tensor in that
dtype (``losses.mean()`` runs in the host wrapper).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(ignore_warnings=[helion.exc.TensorOperationInWrapper])
def cross_entropy(
    logits: torch.Tensor,  # [N, V] input logits
    labels: torch.Tensor,  # [N] target labels
) -> torch.Tensor:
    """
    Computes the cross entropy loss between logits and target labels.

    Implements the cross entropy loss function commonly used in classification tasks.
    The function computes the log softmax of the logits and then calculates the negative
    log likelihood of the true labels.

    Args:
        logits: Input logits tensor of shape [N, V] where N is batch size and V is vocabulary size
        labels: Target labels tensor of shape [N] containing class indices

    Returns:
        A scalar tensor containing the mean cross entropy loss
    """
    n, v = logits.shape
    losses = torch.zeros([n], dtype=logits.dtype, device=logits.device)

    # Flatten logits once at the beginning
    logits_flat = logits.view(-1)

    for tile_n in hl.tile(n):
        # Get data for this tile
        labels_tile = labels[tile_n]  # [tile_size]
        base_indices_tile = tile_n.index * v  # [tile_size]

        # Compute the actual flat indices by adding the label offset
        flat_indices = base_indices_tile + labels_tile

        # Load the logits at the target indices
        logits_at_target = hl.load(logits_flat, [flat_indices])

        # Compute log_softmax for numerical stability
        # Load the full rows for this tile
        logits_rows = logits[tile_n, :]  # [tile_size, V]

        # Compute log-sum-exp
        max_logits = torch.amax(logits_rows, dim=-1, keepdim=True)
        shifted = logits_rows - max_logits
        exp_shifted = torch.exp(shifted)
        sum_exp = torch.sum(exp_shifted, dim=-1, keepdim=True)
        log_sum_exp = max_logits.squeeze(-1) + torch.log(sum_exp.squeeze(-1))

        # Cross entropy loss: log_sum_exp - logit_at_target
        losses[tile_n] = log_sum_exp - logits_at_target

    return losses.mean()
# fmt: on


def cross_entropy_reference(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, labels)


def reduction_length(shape: tuple[int, ...]) -> int:
    """V: each row's log-sum-exp sums V exponentials (the mean over N is an average)."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n, v = shape
    # Unit-variance logits as in the example's main(); labels uniform over the vocabulary.
    logits = torch.randn((n, v), generator=generator)
    labels = torch.randint(0, v, (n,), generator=generator, dtype=torch.int64)
    return logits.to(dtype), labels


SPEC = KernelSpec(
    name="ex_cross_entropy",
    kernel=cross_entropy,
    reference=cross_entropy_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (16384, 131072) is the example's own shape (8 x 2048 tokens, a 128k vocabulary).
    shapes=[(16384, 131072), (4096, 32000)],
    small_shapes=[(8, 128), (3, 100)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One row per program, vocabulary looped in 1024-wide chunks.
        "row_loop": helion.Config(block_sizes=[1], reduction_loops=[1024], num_warps=8),
    },
    description="Helion example: mean cross-entropy loss, log-sum-exp in the logits' dtype",
)
