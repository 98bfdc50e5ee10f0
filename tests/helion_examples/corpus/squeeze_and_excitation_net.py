# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/squeeze_and_excitation_net.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `squeeze_and_excitation_net_fwd`, `_bwd_dx`, `_bwd_da`
# and `_bwd_db` are copied verbatim (between `fmt: off/on`); dropped the reference
# `squeeze_and_excitation_net_pytorch` (rewritten below), the autograd Function, `check()` and
# `main()`; added this header, the module docstring, the references, make_inputs and the SPECS.
"""Squeeze-and-excitation net forward and backward (Helion example ``squeeze_and_excitation_net``).

Shape convention: ``(M, K, N)``: ``x`` is ``[M, N]``, ``a`` is ``[N, K]``, ``b`` is ``[K, N]``,
all in the swept dtype. Forward: ``c = relu(x @ a)`` ``[M, K]``, ``d = sigmoid(c @ b)``
``[M, N]``, ``out = x * d``; it returns ``(out, c, d)``, each stored in x's dtype (``c`` is
rounded before it feeds the second matmul). The three backward kernels take ``grad_out`` and the
saved ``x, a, b, c, d`` and return ``grad_x`` ``[M, N]``, ``grad_a`` ``[N, K]`` and ``grad_b``
``[K, N]``.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch
from torch import Tensor

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel(
    # static_shapes=True gives a performance boost for matmuls
    static_shapes=True,
)
def squeeze_and_excitation_net_fwd(
    x: Tensor, a: Tensor, b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """
    Performs torch.mul(x, torch.sigmoid(torch.relu((x @ a)) @ b))
    Args:
        x: 2D tensor of shape [m, n].
        a: 2D tensor of shape [n, k].
        b: 2D tensor of shape [k, n].
    Returns:
        out: Resulting matrix of shape [m, n].
        c = torch.relu(x @ a) of shape [m, k].
        d = torch.sigmoid(c @ b) of shape [m, n].
    """
    m, n = x.size()
    k = a.size(1)

    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    c = torch.empty([m, k], dtype=x.dtype, device=x.device)
    d = torch.empty([m, n], dtype=x.dtype, device=x.device)

    for tile_m in hl.tile(m):
        # Compute c = relu(x @ a) for this tile_m
        for tile_k in hl.tile(k):
            partial_xa = x[tile_m, :] @ a[:, tile_k]
            c[tile_m, tile_k] = torch.relu(partial_xa)

        # Compute d = sigmoid(c @ b) and out = x * d for this tile_m
        for tile_n in hl.tile(n):
            acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
            for tile_k in hl.tile(k):
                acc = torch.addmm(acc, c[tile_m, tile_k], b[tile_k, tile_n])
            d[tile_m, tile_n] = torch.sigmoid(acc)
            out[tile_m, tile_n] = x[tile_m, tile_n] * d[tile_m, tile_n]

    return out, c, d


# %%
@helion.kernel(static_shapes=True)
def squeeze_and_excitation_net_bwd_dx(
    grad_out: Tensor, x: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor
) -> Tensor:
    """
    Compute grad_x for the squeeze and excitation network.
    grad_x = grad_out * d + (grad_out * x * d * (1-d) @ b.T * (c>0)) @ a.T

    The computation is structured to properly accumulate over the k dimension:
    1. First term: grad_out * d (element-wise, no reduction)
    2. Second term: chain rule through d->c->x path
       - For each output position (m, n), accumulate over k dimension
       - grad_c[m,k] = (grad_out * x * d * (1-d))[m,:] @ b[k,:].T * (c[m,k] > 0)
       - grad_x[m,n] += grad_c[m,k] @ a[n,k].T
    """
    m, n = x.size()
    k = a.size(1)

    grad_x = torch.empty([m, n], dtype=x.dtype, device=x.device)

    # Compute grad_x: grad_out * d + second_term where second_term accumulates over k
    for tile_m, tile_n in hl.tile([m, n]):
        # First term: grad_out * d (element-wise)
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        acc += grad_out[tile_m, tile_n] * d[tile_m, tile_n]

        # Second term: accumulate gradient chain over k dimension
        for tile_k in hl.tile(k):
            # Compute grad_to_d for the full row: shape [tile_m, n]
            grad_to_d = (
                grad_out[tile_m, :] * x[tile_m, :] * d[tile_m, :] * (1.0 - d[tile_m, :])
            )

            # Backprop through (c @ b): grad_c = grad_to_d @ b.T
            # [tile_m, n] @ [n, tile_k] = [tile_m, tile_k]
            grad_to_c = grad_to_d @ b[tile_k, :].T

            # Apply ReLU mask: shape [tile_m, tile_k]
            grad_c_masked = grad_to_c * (c[tile_m, tile_k] > 0)

            # Backprop through (x @ a): grad_x_contribution = grad_c_masked @ a.T
            # [tile_m, tile_k] @ [tile_k, tile_n] = [tile_m, tile_n]
            acc = torch.addmm(acc, grad_c_masked, a[tile_n, tile_k].T)

        grad_x[tile_m, tile_n] = acc

    return grad_x


# %%
@helion.kernel(static_shapes=True)
def squeeze_and_excitation_net_bwd_da(
    grad_out: Tensor, x: Tensor, b: Tensor, c: Tensor, d: Tensor
) -> Tensor:
    """
    Compute grad_a for the squeeze and excitation network.
    grad_a = x.T @ (grad_out * x * d * (1-d) @ b.T * (c>0))
    """
    m, n = x.size()
    k = c.size(1)

    grad_a = torch.empty([n, k], dtype=x.dtype, device=x.device)

    # Compute grad_a: x.T @ grad_c
    for tile_n, tile_k in hl.tile([n, k]):
        acc_a = hl.zeros([tile_n, tile_k], dtype=torch.float32)
        for tile_m in hl.tile(m):
            # Backprop through sigmoid: need full row for matmul with b.T
            grad_to_d = grad_out[tile_m, :] * x[tile_m, :]
            grad_to_cb = grad_to_d * d[tile_m, :] * (1.0 - d[tile_m, :])
            # Backprop through c @ b: [tile_m, n] @ [n, tile_k] = [tile_m, tile_k]
            grad_to_c = grad_to_cb @ b[tile_k, :].T
            # Backprop through relu
            grad_through_relu = grad_to_c * (c[tile_m, tile_k] > 0)
            # Accumulate x.T @ grad_c: [tile_n, tile_m] @ [tile_m, tile_k] = [tile_n, tile_k]
            acc_a = torch.addmm(acc_a, x[tile_m, tile_n].T, grad_through_relu)
        grad_a[tile_n, tile_k] = acc_a

    return grad_a


# %%
@helion.kernel(static_shapes=True)
def squeeze_and_excitation_net_bwd_db(
    grad_out: Tensor, x: Tensor, d: Tensor, c: Tensor
) -> Tensor:
    """
    Compute grad_b by fusing grad_d computation inline.
    grad_b = c.T @ (grad_out * x * d * (1 - d))
    """
    m, n = grad_out.size()
    k = c.size(1)
    grad_b = torch.empty([k, n], dtype=grad_out.dtype, device=grad_out.device)

    for tile_k, tile_n in hl.tile([k, n]):
        acc = hl.zeros([tile_k, tile_n], dtype=torch.float32)
        for tile_m in hl.tile(m):
            grad_d = (
                grad_out[tile_m, tile_n]
                * x[tile_m, tile_n]
                * d[tile_m, tile_n]
                * (1.0 - d[tile_m, tile_n])
            )
            acc = torch.addmm(acc, c[tile_m, tile_k].T, grad_d)
        grad_b[tile_k, tile_n] = acc

    return grad_b


# fmt: on


def se_fwd_reference(x: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    c = torch.relu(x @ a)
    d = torch.sigmoid(c @ b)
    return x * d, c, d


def _grad_c(grad_out: Tensor, x: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    """The gradient reaching c: through out = x * d, the sigmoid, c @ b and the relu."""
    grad_pre_sigmoid = grad_out * x * d * (1 - d)
    return (grad_pre_sigmoid @ b.T) * (c > 0)


def se_bwd_dx_reference(grad_out: Tensor, x: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    return grad_out * d + _grad_c(grad_out, x, b, c, d) @ a.T


def se_bwd_da_reference(grad_out: Tensor, x: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    return x.T @ _grad_c(grad_out, x, b, c, d)


def se_bwd_db_reference(grad_out: Tensor, x: Tensor, d: Tensor, c: Tensor) -> Tensor:
    return c.T @ (grad_out * x * d * (1 - d))


def _forward_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    m, k, n = shape
    # x @ a sums N terms: N**-0.25 on both keeps it of order one; c is then of order one and
    # c @ b sums K terms, so b gets K**-0.5.
    x = torch.randn((m, n), generator=generator) * n**-0.25
    a = torch.randn((n, k), generator=generator) * n**-0.25
    b = torch.randn((k, n), generator=generator) * k**-0.5
    return x.to(dtype), a.to(dtype), b.to(dtype)


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    return _forward_inputs(shape, dtype, generator)


def _saved(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """grad_out and what the autograd Function saves (c and d in x's dtype, as the forward)."""
    x, a, b = _forward_inputs(shape, dtype, generator)
    c = torch.relu(x.float() @ a.float()).to(dtype)
    d = torch.sigmoid(c.float() @ b.float()).to(dtype)
    grad_out = torch.randn(x.shape, generator=generator).to(dtype)
    return grad_out, x, a, b, c, d


def make_dx_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    return _saved(shape, dtype, generator)


def make_da_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    grad_out, x, _a, b, c, d = _saved(shape, dtype, generator)
    return grad_out, x, b, c, d


def make_db_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    grad_out, x, _a, _b, c, d = _saved(shape, dtype, generator)
    return grad_out, x, d, c


_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (1024, 1024, 1024) is the example's own main() shape.
_SHAPES = [(1024, 1024, 1024), (512, 256, 768)]
_SMALL = [(16, 16, 32), (5, 12, 33)]
# fp32 dots run as tf32 on GPUs (Helion's default dot_precision); in fp16/bf16 the kernels round
# intermediate products (c, d, grad_to_d, grad_to_c) to the dtype before they feed a dot.
_DOTS = {torch.float32: "tf32", torch.float16: "fp16-operand", torch.bfloat16: "bf16-operand"}


def _spec(
    name: str, kernel: object, reference: object, inputs: object, k_of: object, what: str, **kw: object
) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=reference,  # type: ignore[arg-type]
        make_inputs=inputs,  # type: ignore[arg-type]
        reduction_length=k_of,  # type: ignore[arg-type]
        shapes=_SHAPES,
        small_shapes=_SMALL,
        dtypes=_DTYPES,
        configs={"default": DEFAULT},
        dot_precision=_DOTS,  # type: ignore[arg-type]
        description=f"Helion example: squeeze-and-excitation net, {what}",
        **kw,  # type: ignore[arg-type]
    )


SPECS = [
    _spec(
        "ex_se_net",
        squeeze_and_excitation_net_fwd,
        se_fwd_reference,
        make_inputs,
        lambda s: s[2],
        "forward (out, c, d)",
        outputs=[Output("out"), Output("c"), Output("d", reduction_length=lambda s: s[1])],
    ),
    _spec(
        "ex_se_net_bwd_dx",
        squeeze_and_excitation_net_bwd_dx,
        se_bwd_dx_reference,
        make_dx_inputs,
        lambda s: s[1] + s[2],
        "grad_x",
    ),
    _spec(
        "ex_se_net_bwd_da",
        squeeze_and_excitation_net_bwd_da,
        se_bwd_da_reference,
        make_da_inputs,
        lambda s: s[0] + s[2],
        "grad_a",
    ),
    _spec(
        "ex_se_net_bwd_db",
        squeeze_and_excitation_net_bwd_db,
        se_bwd_db_reference,
        make_db_inputs,
        lambda s: s[0],
        "grad_b",
    ),
]
