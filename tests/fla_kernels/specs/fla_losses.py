"""flash-linear-attention's loss kernels (cross-entropy, KL divergence, log-sum-exp), checked
through kcheck launchers.

Source: fla-core 0.6.0 from PyPI (https://github.com/fla-org/flash-linear-attention):
``fla/modules/fused_cross_entropy/ops.py`` (``cross_entropy_fwd_kernel``),
``fla/modules/fused_kl_div/ops.py`` (``kl_div_kernel``),
``fla/modules/fused_linear_cross_entropy/ops.py`` (``logsumexp_fwd_kernel``). License: MIT,
Copyright (c) 2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li (copy in ../LICENSE-fla-core). The
kernels are imported from the installed package, never copied.

Wrapper kinds: ``cross_entropy_fwd_kernel`` and ``kl_div_kernel`` are plain ``@triton.jit``
(fla's wrappers pick the block and warps by hand: ``DEFAULT`` here is that choice);
``logsumexp_fwd_kernel`` is ``@triton.heuristics`` (HAS_SCALE, HAS_SOFTCAPPING from whether
``scale`` / ``softcapping`` are given) over jit, no autotune: its space is the block BD.

Shapes are (N, V): logits N x V (targets N int64, every fourth one ``ignore_index``).
"""

import torch
from fla.modules.fused_cross_entropy.ops import cross_entropy_fwd_kernel
from fla.modules.fused_kl_div.ops import kl_div_kernel
from fla.modules.fused_linear_cross_entropy.ops import logsumexp_fwd_kernel
from triton import Config, cdiv, next_power_of_2

from checker.spec import DEFAULT, Output
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec

IGNORE_INDEX = -100
LABEL_SMOOTHING = 0.1
LSE_SQUARE_SCALE = 1e-4
SCALE = 0.5
SOFTCAP = 20.0
F32 = torch.float32
POW2 = [2**k for k in range(6, 17)]


def _row_blocks(logits, *rest):
    """Block sizes that hold a whole row (the single-launch, unsplit path of fla's wrapper)."""
    return [b for b in POW2 if b >= next_power_of_2(logits.shape[1])]


def launch_cross_entropy(kernel, logits, target, *, BV):
    """fla's ``cross_entropy_fwd`` with one vocabulary block per row (NV == 1, no split): the
    split path launches a second (reduce) kernel, and a case is one launch."""
    n, v = logits.shape
    loss = torch.empty(n, dtype=torch.float32, device=logits.device)
    lse = torch.empty(n, dtype=torch.float32, device=logits.device)
    z_loss = torch.empty(n, dtype=torch.float32, device=logits.device)
    kernel[(n, cdiv(v, BV))](
        logits=logits, target=target, loss=loss, z_loss=z_loss, lse=lse, s_logits=logits.stride(0),
        label_smoothing=LABEL_SMOOTHING, logit_scale=1.0, lse_square_scale=LSE_SQUARE_SCALE,
        logit_softcapping=None, ignore_index=IGNORE_INDEX, N=n, V=v, V_TOTAL=v, V_START=0, BV=BV,
        SPLIT=False,
    )  # fmt: skip
    return loss, z_loss, lse


def fla_cross_entropy_config(logits, target):
    bv = min(next_power_of_2(logits.shape[1]), 64 * 1024)
    return Config({"BV": bv}, num_warps=4 if bv < 2048 else (8 if bv < 8192 else 16))


def ref_cross_entropy(logits, target):
    x = logits
    keep = target != IGNORE_INDEX
    lse = torch.logsumexp(x, -1)
    picked = x.gather(1, torch.where(keep, target, 0)[:, None])[:, 0]
    z_loss = LSE_SQUARE_SCALE * lse * lse
    loss = (1 - LABEL_SMOOTHING) * -picked - LABEL_SMOOTHING * x.sum(-1) / x.shape[1] + lse + z_loss
    return torch.where(keep, loss, 0.0), torch.where(keep, z_loss, 0.0), lse


def make_ce(shape, dtype, gen):
    n, v = shape
    target = torch.randint(0, v, (n,), generator=gen)
    target[3::4] = IGNORE_INDEX
    return (2 * torch.randn(n, v, generator=gen)).to(dtype), target


def launch_kl_div(kernel, logits, target_logits, *, BV):
    """fla's ``fused_kl_div_fwd`` launch for one chunk (reduction 'batchmean'): the kernel
    overwrites the student logits with d(loss)/d(logits), so it gets a copy."""
    n, v = logits.shape
    grad = logits.clone()
    loss = torch.zeros(n, dtype=torch.float32, device=logits.device)
    kernel[(n,)](
        logits=grad, target_logits=target_logits, loss=loss, s_logits=grad.stride(-2),
        s_loss=loss.stride(-1), reduction="batchmean", N=n, V=v, BV=BV,
    )  # fmt: skip
    return loss, grad


def fla_kl_config(logits, target_logits):
    return Config({"BV": min(65536 // 2, next_power_of_2(logits.shape[1]))}, num_warps=32)


def ref_kl_div(logits, target_logits):
    n = logits.shape[0]
    sp = torch.log_softmax(logits, -1)
    tp = torch.log_softmax(target_logits, -1)
    loss = (tp.exp() * (tp - sp)).sum(-1) / n
    return loss, ((sp.exp() - tp.exp()) / n).to(logits.dtype)


def make_kl(shape, dtype, gen):
    return tuple((2 * torch.randn(*shape, generator=gen)).to(dtype) for _ in range(2))


def launch_logsumexp(kernel, x, *, BD):
    """fla's ``logsumexp_fwd(scale=SCALE, softcapping=SOFTCAP)``: the kernel writes one partial
    log-sum-exp per BD-wide block; the wrapper's host ``logsumexp`` combines them."""
    n, d = x.shape
    nd = cdiv(d, BD)
    z = torch.empty(n, nd, dtype=torch.float32, device=x.device)
    kernel[(n, nd)](x=x, z=z, scale=SCALE, softcapping=SOFTCAP, D=d, BD=BD)
    return z.logsumexp(-1)


def fla_logsumexp_config(x):
    return Config({"BD": min(next_power_of_2(x.shape[1]), 64 * 1024)})


def ref_logsumexp(x):
    xs = x * SCALE
    return torch.logsumexp(SOFTCAP * torch.tanh(xs / SOFTCAP), -1)


def make_x(shape, dtype, gen):
    return ((4 * torch.randn(*shape, generator=gen)).to(dtype),)


WARPS = {"num_warps": [4, 8, 16, 32], "num_stages": [1, 2, 3]}
DTYPES = [torch.float32, torch.float16, torch.bfloat16]

SPECS = [
    TritonSpec(
        name="fla_cross_entropy",
        kernel=TritonKernel(
            cross_entropy_fwd_kernel,
            launch_cross_entropy,
            space=ConfigSpace({"BV": _row_blocks, **WARPS}),
            default=fla_cross_entropy_config,
        ),
        reference=ref_cross_entropy,
        make_inputs=make_ce,
        shapes=[(1024, 32000), (333, 50257)],
        small_shapes=[(8, 100), (4, 300)],
        dtypes=DTYPES,
        configs={"fla": DEFAULT},
        reduction_length=lambda shape: shape[1],
        outputs=[Output("loss", dtype=F32), Output("z_loss", dtype=F32), Output("lse", dtype=F32)],
    ),
    TritonSpec(
        name="fla_kl_div",
        kernel=TritonKernel(
            kl_div_kernel,
            launch_kl_div,
            space=ConfigSpace({"BV": POW2[:10], **WARPS}),
            default=fla_kl_config,
        ),
        reference=ref_kl_div,
        make_inputs=make_kl,
        shapes=[(1024, 32000), (333, 50257)],
        small_shapes=[(8, 100), (4, 300)],
        dtypes=DTYPES,
        configs={"fla": DEFAULT, "bv64": Config({"BV": 64}, num_warps=4, num_stages=2)},
        reduction_length=lambda shape: shape[1],
        outputs=[Output("loss", dtype=F32), Output("grad")],
    ),
    TritonSpec(
        name="fla_logsumexp_softcap",
        kernel=TritonKernel(
            logsumexp_fwd_kernel,
            launch_logsumexp,
            space=ConfigSpace({"BD": POW2[:10], **WARPS}),
            default=fla_logsumexp_config,
        ),
        reference=ref_logsumexp,
        make_inputs=make_x,
        shapes=[(1024, 32000), (333, 50257)],
        small_shapes=[(8, 100), (4, 300)],
        dtypes=DTYPES,
        configs={"fla": DEFAULT, "bd64": Config({"BD": 64}, num_warps=4, num_stages=2)},
        reduction_length=lambda shape: shape[1],
        outputs=[Output("lse", dtype=F32)],
    ),
]
