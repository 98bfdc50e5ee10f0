"""Liger-Kernel's fused cross-entropy kernel (loss and gradient), checked through a kcheck launcher.

Source: liger-kernel 0.8.5 from PyPI, ``liger_kernel/ops/cross_entropy.py``,
``liger_cross_entropy_kernel`` (https://github.com/linkedin/Liger-Kernel). License:
BSD-2-Clause, Copyright 2024 LinkedIn Corporation (the wheel's METADATA and
``licenses/LICENSE``; copy in ../LICENSE-liger-kernel). Imported from the installed package.

The launcher does what liger's ``cross_entropy_forward`` does for hard labels, mean reduction,
no class weights, no label smoothing, no soft-capping, with gradients: the kernel writes the
gradient into its logits argument, so the launcher hands it a copy of ``logits`` and returns
(per-row loss, gradient). Two differences from liger's wrapper, both so that a compile without
real data (the compile stage fills tensors with uninitialized memory) specializes the kernel
as the real launch does: ``n_non_ignore`` and ``sum_non_ignore_weight`` are passed as floats
(liger passes Python ints from ``.item()``, which Triton specializes when they equal 1 or are
divisible by 16; the kernel divides fp32 values by them either way). BLOCK_SIZE (the vocabulary
chunk each loop iteration reads), num_warps and num_stages come from the config; ``DEFAULT`` is
liger's choice (min(32768, next_pow2(V)), 32 warps on Hopper).

Shapes are (BT, V): logits BT x V, targets BT int64 with every fourth row ``ignore_index``.
"""

import torch
import triton
from liger_kernel.ops.cross_entropy import liger_cross_entropy_kernel

from checker.spec import DEFAULT, Output
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec

IGNORE_INDEX = -100


def launch(kernel, logits, target, *, BLOCK_SIZE):
    n_rows, n_cols = logits.shape
    grad = logits.clone()  # the kernel overwrites its logits with the gradient
    loss = torch.zeros(n_rows, dtype=logits.dtype, device=logits.device)
    n_non_ignore = float((target != IGNORE_INDEX).sum().item())
    kernel[(n_rows,)](
        X_ptr=grad, X_stride=grad.stride(-2), Y_ptr=target, Y_stride=target.stride(-1),
        weight_ptr=None, loss_ptr=loss, z_loss_ptr=None, loss_stride=loss.stride(-1),
        token_accuracy_ptr=None, token_accuracy_stride=0,
        predicted_tokens_ptr=None, predicted_tokens_stride=0,
        n_cols=n_cols, n_non_ignore=n_non_ignore, sum_non_ignore_weight=n_non_ignore, weight_sum=0.0,
        ignore_index=IGNORE_INDEX, lse_square_scale=0.0, label_smoothing=0.0, reduction="mean",
        softcap=None, RETURN_Z_LOSS=False, RETURN_TOKEN_ACCURACY=False, RETURN_PREDICTED_TOKENS=False,
        BLOCK_SIZE=BLOCK_SIZE, HAS_WEIGHT=False, HAS_SOFTCAPPING=False, HAS_GRADIENTS=True,
    )  # fmt: skip
    return loss, grad


def liger_settings(logits, target):
    return triton.Config({"BLOCK_SIZE": min(32768, triton.next_power_of_2(logits.shape[1]))}, num_warps=32)


def make_inputs(shape, dtype, gen):
    bt, v = shape
    target = torch.randint(0, v, (bt,), generator=gen)
    target[3::4] = IGNORE_INDEX
    return (2 * torch.randn(bt, v, generator=gen)).to(dtype), target


def reference(logits, target):
    keep = target != IGNORE_INDEX
    n = keep.sum()
    safe = torch.where(keep, target, 0)
    logp = torch.log_softmax(logits, dim=-1)
    loss = torch.where(keep, -logp.gather(1, safe[:, None])[:, 0], 0.0) / n
    onehot = torch.nn.functional.one_hot(safe, logits.shape[1]).to(logits.dtype)
    grad = torch.where(keep[:, None], (logp.exp() - onehot) / n, 0.0)
    return loss, grad


SPEC = TritonSpec(
    name="liger_cross_entropy",
    kernel=TritonKernel(
        liger_cross_entropy_kernel,
        launch,
        space=ConfigSpace(
            {"BLOCK_SIZE": [64, 256, 1024, 4096, 16384], "num_warps": [4, 8, 16, 32], "num_stages": [1, 2, 3]}
        ),
        default=liger_settings,
    ),
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(1024, 32000), (333, 50257)],
    small_shapes=[(8, 100), (4, 300)],
    dtypes=[torch.float32, torch.bfloat16],
    configs={"liger": DEFAULT, "chunk128": triton.Config({"BLOCK_SIZE": 128}, num_warps=4, num_stages=2)},
    # Each loss and gradient element comes from a log-sum-exp over the V logits of its row.
    reduction_length=lambda shape: shape[1],
    outputs=[Output("loss"), Output("grad")],
)
