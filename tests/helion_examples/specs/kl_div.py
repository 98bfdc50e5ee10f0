# Third-party test data: a kernel from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/kl_div.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `kl_div_forward` is copied verbatim (between `fmt: off/on`);
# dropped the nn.Module wrappers, the tritonbench wrapper, the checks and `main()`; added this
# header, the module docstring, the references (torch.nn.functional.kl_div), make_inputs and
# the two SPECS.
"""KL divergence loss (Helion example ``kl_div``), two reductions of one kernel.

Shape convention: ``(BT, V)`` is the shape of ``y_pred`` (log-probabilities) and ``y_true``
(probabilities, ``log_target=False``). ``ex_kl_div`` checks ``reduction="batchmean"``: one fp32
scalar, the per-row sums over V summed on the host and divided by BT. ``ex_kl_div_none`` checks
``reduction="none"``: the elementwise loss ``[BT, V]`` in the input dtype. fp16 is left out as the
example says (the ~1/V target probabilities underflow fp16 at realistic vocabularies).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec, Tolerance


# fmt: off
@helion.kernel(ignore_warnings=[helion.exc.TensorOperationInWrapper])
def kl_div_forward(
    y_pred: Tensor,  # input predictions in log-space, shape (BT, V)
    y_true: Tensor,  # target values, shape (BT, V)
    log_target: hl.constexpr = False,  # pyrefly: ignore[bad-function-definition]
    reduction: str = "batchmean",
    eps: float = 1e-10,
) -> Tensor:
    """
    Compute KL Divergence loss.

    Args:
        y_pred: Input predictions in log-space, shape (BT, V)
        y_true: Target values (probabilities or log-probabilities), shape (BT, V)
        log_target: If True, y_true is in log-space; if False, y_true is probabilities
        reduction: Reduction mode ('none', 'sum', 'mean', 'batchmean')
        eps: Small value to avoid numerical issues

    Returns:
        loss: KL divergence loss

    Precision note: use bf16 or fp32, NOT fp16, at realistic vocabularies — the ~1/V target
    probabilities underflow fp16 to 0 for V >= ~30k, so log(0) = -inf and the row goes NaN.
    """
    BT, V = y_pred.shape
    assert y_true.shape == y_pred.shape, (
        f"Shape mismatch: {y_true.shape} != {y_pred.shape}"
    )

    # Initialize loss accumulator
    if reduction == "none":
        loss = torch.zeros_like(y_pred)
    else:
        loss = torch.zeros((BT,), dtype=torch.float32, device=y_pred.device)

    # Call register_block_size to know block_size_n outside of the reduction loop.
    block_size_n = hl.register_block_size(V)
    block_size_m = hl.register_block_size(BT)

    for tile_bt in hl.tile(BT, block_size=block_size_m):
        loss_sum = hl.zeros([tile_bt, block_size_n], dtype=torch.float32)

        for tile_v in hl.tile(V, block_size=block_size_n):
            kl_loss = hl.zeros([block_size_m, block_size_n], dtype=torch.float32)

            y_pred_val = y_pred[tile_bt, tile_v]
            y_true_val = y_true[tile_bt, tile_v]

            if log_target:
                # KL(P || Q) = exp(y_true) * (y_true - y_pred) when both in log-space
                prob_true = torch.exp(y_true_val)
                kl_loss += prob_true * (y_true_val - y_pred_val)

            else:
                # KL(P || Q) = y_true * (log(y_true) - y_pred) when y_pred in log-space
                log_true = torch.log(torch.clamp(y_true_val, min=eps))
                kl_loss += y_true_val * (log_true - y_pred_val)

            if reduction == "none":
                loss[tile_bt, tile_v] = kl_loss
            else:
                # Sum over vocabulary dimension
                loss_sum += kl_loss

        if reduction != "none":
            loss[tile_bt] = loss_sum.sum(dim=-1)

    # Apply final reduction
    if reduction == "batchmean":
        final_loss = torch.sum(loss) / BT
    elif reduction == "sum":
        final_loss = torch.sum(loss, dim=0)
    elif reduction == "mean":
        final_loss = torch.sum(loss) / (BT * V)
    else:  # reduction == "none"
        final_loss = loss

    return final_loss
# fmt: on


def kl_div_reference(y_pred: Tensor, y_true: Tensor, log_target: bool, reduction: str, eps: float) -> Tensor:
    return torch.nn.functional.kl_div(y_pred, y_true, reduction=reduction, log_target=log_target)


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    bt, v = shape
    # Student log-probabilities and teacher probabilities of two different random logit sets.
    y_pred = torch.log_softmax(torch.randn((bt, v), generator=generator), dim=-1)
    y_true = torch.softmax(torch.randn((bt, v), generator=generator), dim=-1)
    return y_pred.to(dtype), y_true.to(dtype)


def make_inputs_batchmean(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, bool, str, float]:
    return (*_inputs(shape, dtype, generator), False, "batchmean", 1e-10)


def make_inputs_none(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, bool, str, float]:
    return (*_inputs(shape, dtype, generator), False, "none", 1e-10)


def reduction_length(shape: tuple[int, ...]) -> int:
    """BT * V: the batchmean loss sums every element's term (V per row on the device, then BT)."""
    return shape[0] * shape[1]


_SHAPES = [(4096, 32000), (1024, 50257)]
_SMALL = [(4, 128), (3, 100)]
_DTYPES = [torch.float32, torch.bfloat16]
_CONFIGS = {
    "default": DEFAULT,
    # block_sizes = [vocabulary chunk (block_size_n), rows per program (block_size_m)].
    "chunked": helion.Config(block_sizes=[32, 2], num_warps=4),
}

SPECS = [
    KernelSpec(
        name="ex_kl_div",
        kernel=kl_div_forward,
        reference=kl_div_reference,
        make_inputs=make_inputs_batchmean,
        reduction_length=reduction_length,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        # The loss accumulator is fp32 whatever the input dtype.
        output_dtypes={torch.bfloat16: torch.float32},
        tolerances={
            torch.bfloat16: Tolerance(
                4e-3,
                4e-3,
                reason="log(y_true) and y_true * (log_true - y_pred) are computed in bf16 (torch "
                "ops on bf16 tiles) before the fp32 accumulation, so the fp32 loss carries bf16 "
                "rounding of every term; a CPU emulation of those bf16 ops is off by 7.5e-4 "
                "relative at (4, 128)",
            )
        },
        # Third-party kernels: no golden files of their generated code are kept.
        description="Helion example: KL divergence, reduction='batchmean' (fp32 scalar)",
    ),
    KernelSpec(
        name="ex_kl_div_none",
        kernel=kl_div_forward,
        reference=kl_div_reference,
        make_inputs=make_inputs_none,
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs=_CONFIGS,
        tolerances={
            torch.bfloat16: Tolerance(
                1.6e-2,
                4e-3,
                reason="the bracket log(y_true) - y_pred is computed in bf16 from operands of "
                "magnitude up to |log(1/V)| + 3, so each element carries an absolute error of "
                "about 2^-8 times that, times y_true, and elements whose bracket nearly cancels "
                "have no relative accuracy; a CPU emulation of those bf16 ops is off by at most "
                "1.6e-3 absolute at (4, 128)",
            )
        },
        description="Helion example: KL divergence, reduction='none' (elementwise loss)",
    ),
]
