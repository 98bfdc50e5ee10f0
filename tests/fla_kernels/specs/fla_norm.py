"""flash-linear-attention's normalization kernels, checked through kcheck launchers.

Source: fla-core 0.6.0 from PyPI, ``fla/modules/norm/`` (``l2norm.py``, ``layernorm.py``,
``fused_norm_gate.py``, ``layernorm_gated.py``; https://github.com/fla-org/flash-linear-attention).
License: MIT, Copyright (c) 2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li (copy in
../LICENSE-fla-core). The kernels are imported from the installed package, never copied.

Wrapper kinds, one per spec:

- ``fla_l2norm``: ``l2norm_fwd_kernel``, fla's own ``Autotuner`` subclass (``CachedAutotuner``,
  ``@fla_cache_autotune``: 25 configs, BT x num_warps) over ``@triton.jit``.
- ``fla_l2norm_row``: ``l2norm_fwd_kernel_row``, ``@triton.autotune`` (num_warps only, configs
  with no kwargs) over jit; fla takes it for D > 512, the kernel is correct for any D.
- ``fla_layer_norm`` / ``fla_rms_norm``: ``layer_norm_fwd_kernel``, ``@triton.autotune`` (9
  configs) over jit; fla's wrapper passes every flag itself (no heuristics).
- ``fla_layer_norm_gated``: ``layer_norm_gated_fwd_kernel``, ``@triton.heuristics`` (residual,
  residual_out, weight, bias present) over ``@triton.autotune`` over jit; a residual is given,
  so the summed residual is an output too.
- ``fla_group_norm_gated``: ``layer_norm_fwd_kernel_group`` (``layernorm_gated.py``),
  ``@triton.heuristics`` (HAS_BIAS, HAS_GATE) directly over jit, no autotune: the config space
  is num_warps (``DEFAULT``: fla's ``min(max(BD // 256, 1), 8)``).

Each launcher is fla's host function (``l2norm_fwd``, ``layer_norm_fwd``...) for these inputs.
Shapes are (T, D): x is T x D, weights have D entries. Statistics (mean, rstd) are fp32
outputs; y is in the input dtype, computed in fp32.
"""

import torch
import torch.nn.functional as F
from fla.modules.norm.fused_norm_gate import layer_norm_gated_fwd_kernel
from fla.modules.norm.l2norm import l2norm_fwd_kernel, l2norm_fwd_kernel_row
from fla.modules.norm.layernorm import layer_norm_fwd_kernel
from fla.modules.norm.layernorm_gated import layer_norm_fwd_kernel_group
from triton import Config, cdiv, next_power_of_2

from checker.spec import DEFAULT, Output
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec

EPS = 1e-5
F32 = torch.float32
GROUPS = 2


def _bd(x):
    return min(65536 // x.element_size(), next_power_of_2(x.shape[-1]))


def launch_l2norm(kernel, x):
    t, d = x.shape
    y = torch.empty_like(x)
    rstd = torch.empty(t, dtype=torch.float32, device=x.device)
    nb = cdiv(t, 2048 * 32)
    kernel[lambda meta: (cdiv(t, meta["BT"]),)](x=x, y=y, rstd=rstd, eps=EPS, T=t, D=d, BD=_bd(x), NB=nb)
    return y, rstd


def launch_l2norm_row(kernel, x):
    t, d = x.shape
    y = torch.empty_like(x)
    rstd = torch.empty(t, dtype=torch.float32, device=x.device)
    kernel[(t,)](x=x, y=y, rstd=rstd, eps=EPS, D=d, BD=_bd(x))
    return y, rstd


def ref_l2norm(x):
    xf = x
    rstd = 1 / torch.sqrt((xf * xf).sum(-1) + EPS)
    return (xf * rstd[:, None]).to(x.dtype), rstd


def _layer_norm(kernel, x, w, b, rms):
    t, d = x.shape
    y = torch.empty_like(x)
    mean = None if rms else torch.empty(t, dtype=torch.float32, device=x.device)
    rstd = torch.empty(t, dtype=torch.float32, device=x.device)
    kernel[lambda meta: (cdiv(t, meta["BT"]),)](
        x=x, y=y, w=w, b=b, res=None, res_out=None, mean=mean, rstd=rstd, eps=EPS, T=t, G=1, D=d,
        BD=_bd(x), NB=cdiv(t, 2048), IS_RMS_NORM=rms, HAS_RESIDUAL=False, STORE_RESIDUAL_OUT=False,
        HAS_WEIGHT=True, HAS_BIAS=b is not None,
    )  # fmt: skip
    return (y, rstd) if rms else (y, mean, rstd)


def launch_layer_norm(kernel, x, w, b):
    return _layer_norm(kernel, x, w, b, rms=False)


def launch_rms_norm(kernel, x, w):
    return _layer_norm(kernel, x, w, None, rms=True)


def _stats(xf):
    mean = xf.mean(-1)
    rstd = 1 / torch.sqrt(((xf - mean[:, None]) ** 2).mean(-1) + EPS)
    return mean, rstd


def ref_layer_norm(x, w, b):
    xf = x
    mean, rstd = _stats(xf)
    y = (xf - mean[:, None]) * rstd[:, None] * w + b
    return y.to(x.dtype), mean, rstd


def ref_rms_norm(x, w):
    xf = x
    rstd = 1 / torch.sqrt((xf * xf).mean(-1) + EPS)
    return (xf * rstd[:, None] * w).to(x.dtype), rstd


def launch_layer_norm_gated(kernel, x, g, w, b, res):
    """fla's ``layer_norm_gated_fwd(activation="swish", residual=res)`` for D <= 512."""
    t, d = x.shape
    y = torch.empty_like(x)
    res_out = torch.empty_like(res)
    mean = torch.empty(t, dtype=torch.float32, device=x.device)
    rstd = torch.empty(t, dtype=torch.float32, device=x.device)
    kernel[lambda meta: (cdiv(t, meta["BT"]),)](
        x=x, g=g, y=y, w=w, b=b, residual=res, residual_out=res_out, mean=mean, rstd=rstd, eps=EPS,
        T=t, D=d, BD=_bd(x), NB=cdiv(t, 2048 * 32), ACTIVATION="swish", IS_RMS_NORM=False,
    )  # fmt: skip
    return y, res_out, mean, rstd


def ref_layer_norm_gated(x, g, w, b, res):
    xf = x + res
    mean, rstd = _stats(xf)
    y = ((xf - mean[:, None]) * rstd[:, None] * w + b) * F.silu(g)
    return y.to(x.dtype), xf.to(res.dtype), mean, rstd


def launch_group_norm_gated(kernel, x, w, b, z):
    """fla's ``layernorm_gated.layer_norm_fwd(group_size=D // GROUPS, norm_before_gate=True)``;
    mean and rstd are laid out group-major (G x T)."""
    t, d = x.shape
    group = d // GROUPS
    y = torch.empty_like(x)
    mean = torch.empty(GROUPS * t, dtype=torch.float32, device=x.device)
    rstd = torch.empty(GROUPS * t, dtype=torch.float32, device=x.device)
    bd = min(65536 // x.element_size(), next_power_of_2(group))
    kernel[(t, GROUPS)](
        x=x, y=y, w=w, b=b, g=z, mean=mean, rstd=rstd, stride_x_row=x.stride(0),
        stride_y_row=y.stride(0), stride_g_row=z.stride(0), T=t, D=group, eps=EPS, BD=bd,
        NORM_BEFORE_GATE=True, IS_RMS_NORM=False,
    )  # fmt: skip
    return y, mean, rstd


def fla_group_config(x, w, b, z):
    bd = next_power_of_2(x.shape[1] // GROUPS)
    return Config({}, num_warps=min(max(bd // 256, 1), 8))


def ref_group_norm_gated(x, w, b, z):
    t, d = x.shape
    xg = x.view(t, GROUPS, d // GROUPS)
    mean = xg.mean(-1)
    rstd = 1 / torch.sqrt(((xg - mean[..., None]) ** 2).mean(-1) + EPS)
    y = ((xg - mean[..., None]) * rstd[..., None]).view(t, d) * w + b
    y = y * F.silu(z)
    return y.to(x.dtype), mean.t().reshape(-1), rstd.t().reshape(-1)


def _randn(gen, dtype, *shape):
    return torch.randn(*shape, generator=gen).to(dtype)


def make_x(shape, dtype, gen):
    return (_randn(gen, dtype, *shape),)


def make_xwb(shape, dtype, gen):
    t, d = shape
    return _randn(gen, dtype, t, d), _randn(gen, dtype, d), _randn(gen, dtype, d)


def make_xw(shape, dtype, gen):
    t, d = shape
    return _randn(gen, dtype, t, d), _randn(gen, dtype, d)


def make_gated(shape, dtype, gen):
    t, d = shape
    return (
        _randn(gen, dtype, t, d),
        _randn(gen, dtype, t, d),
        _randn(gen, dtype, d),
        _randn(gen, dtype, d),
        _randn(gen, dtype, t, d),
    )


def make_group(shape, dtype, gen):
    t, d = shape
    return _randn(gen, dtype, t, d), _randn(gen, dtype, d), _randn(gen, dtype, d), _randn(gen, dtype, t, d)


DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# fla picks the tiled kernels for D <= 512 (full shapes stay there) and the row kernels above.
SMALL = [(5, 96), (3, 40)]
FULL = [(8192, 512), (3001, 128)]

SPECS = [
    TritonSpec(
        name="fla_l2norm",
        kernel=TritonKernel(l2norm_fwd_kernel, launch_l2norm),
        reference=ref_l2norm,
        make_inputs=make_x,
        shapes=FULL,
        small_shapes=SMALL,
        dtypes=DTYPES,
        outputs=[Output("y"), Output("rstd", dtype=F32)],
    ),
    TritonSpec(
        name="fla_l2norm_row",
        kernel=TritonKernel(l2norm_fwd_kernel_row, launch_l2norm_row),
        reference=ref_l2norm,
        make_inputs=make_x,
        shapes=[(4096, 4096), (1000, 2731)],
        small_shapes=[(3, 600), (2, 1030)],
        dtypes=DTYPES,
        outputs=[Output("y"), Output("rstd", dtype=F32)],
    ),
    TritonSpec(
        name="fla_layer_norm",
        kernel=TritonKernel(layer_norm_fwd_kernel, launch_layer_norm),
        reference=ref_layer_norm,
        make_inputs=make_xwb,
        shapes=FULL,
        small_shapes=SMALL,
        dtypes=DTYPES,
        outputs=[Output("y"), Output("mean", dtype=F32), Output("rstd", dtype=F32)],
    ),
    TritonSpec(
        name="fla_rms_norm",
        kernel=TritonKernel(layer_norm_fwd_kernel, launch_rms_norm),
        reference=ref_rms_norm,
        make_inputs=make_xw,
        shapes=FULL,
        small_shapes=SMALL,
        dtypes=DTYPES,
        outputs=[Output("y"), Output("rstd", dtype=F32)],
    ),
    TritonSpec(
        name="fla_layer_norm_gated",
        kernel=TritonKernel(layer_norm_gated_fwd_kernel, launch_layer_norm_gated),
        reference=ref_layer_norm_gated,
        make_inputs=make_gated,
        shapes=FULL,
        small_shapes=SMALL,
        dtypes=DTYPES,
        outputs=[Output("y"), Output("residual_out"), Output("mean", dtype=F32), Output("rstd", dtype=F32)],
    ),
    TritonSpec(
        name="fla_group_norm_gated",
        kernel=TritonKernel(
            layer_norm_fwd_kernel_group,
            launch_group_norm_gated,
            space=ConfigSpace({"num_warps": [1, 2, 4, 8], "num_stages": [1, 2, 3]}),
            default=fla_group_config,
        ),
        reference=ref_group_norm_gated,
        make_inputs=make_group,
        shapes=[(4096, 4096), (1000, 2048)],
        small_shapes=SMALL,
        dtypes=DTYPES,
        outputs=[Output("y"), Output("mean", dtype=F32), Output("rstd", dtype=F32)],
        configs={"fla": DEFAULT},
    ),
]
