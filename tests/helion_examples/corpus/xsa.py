# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/xsa.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel `xsa_kernel` and the example's `ref_xsa` (its decorator's
# autotune baseline names it) are copied verbatim (between `fmt: off/on`); dropped `sdpa_xsa`,
# the checks and `main()`; added this header, the module docstring, a float64 reference of our
# own, make_inputs and SPEC.
"""Exclusive self-attention forward (Helion example ``xsa``).

Shape convention: ``(Z, H, T, D)``: ``q``, ``k``, ``v`` are ``[Z, H, T, D]`` in the swept dtype
(self-attention, non-causal). ``y = softmax(q @ k^T / sqrt(D)) @ v``, then each row loses its
projection on its own normalized value vector: ``z = y - (y . vn) vn`` with
``vn = v / max(||v||, eps)``, eps 1e-6. Output ``[Z, H, T, D]`` in q's dtype. Online softmax
over key tiles; P is rounded to v's dtype before the P @ V dot.
"""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch
import torch.nn.functional as F

from checker.spec import DEFAULT, KernelSpec


# fmt: off
@helion.kernel(
    # Static shapes provides a speedup for attention.
    static_shapes=True,
    # Use the manual matmul+softmax reference as autotune's correctness anchor.
    # Otherwise `_compute_baseline` compiles Helion's default config, which OOMs
    # VMEM on TPU at large shapes (V is left as a VMEM ref because of the
    # outer-scope epilogue read, forcing a full-tensor BlockSpec). Wrap in a
    # lambda so the `ref_xsa` name is looked up at call time (it's defined
    # further down the file).
    autotune_baseline_fn=lambda q, k, v, eps=1e-6: ref_xsa(q, k, v, eps),
)
def xsa_kernel(
    q_in: torch.Tensor,
    k_in: torch.Tensor,
    v_in: torch.Tensor,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Fused exclusive self-attention (XSA) forward kernel.

    Args:
        q_in: Query tensor of shape ``[..., T, D]``.
        k_in: Key tensor of shape ``[..., T, D]``.
        v_in: Value tensor of shape ``[..., T, D]``.
        eps: Lower bound on the per-token L2 norm of ``V`` used to match
            ``F.normalize`` semantics (``vn = v / max(||v||, eps)``).

    Returns:
        Output tensor with the same shape and dtype as ``q_in``.
    """
    m_dim = q_in.size(-2)
    n_dim = k_in.size(-2)
    assert n_dim == v_in.size(-2)
    # Self-attention only in this first pass.
    assert n_dim == m_dim, (
        "xsa_kernel is self-attention only: Q, K, V must share sequence length"
    )
    head_dim = hl.specialize(q_in.size(-1))
    assert head_dim == k_in.size(-1) == v_in.size(-1)
    q_view = q_in.reshape([-1, m_dim, head_dim])
    v_view = v_in.reshape([-1, n_dim, head_dim])
    k_view = k_in.reshape([-1, n_dim, head_dim])
    out = torch.empty_like(q_view)
    sm_scale = 1.0 / math.sqrt(head_dim)
    qk_scale = sm_scale * 1.44269504  # 1/log(2)
    for tile_b, tile_m in hl.tile([q_view.size(0), m_dim]):
        m_i = hl.full([tile_b, tile_m], float("-inf"), dtype=torch.float32)
        l_i = torch.full_like(m_i, 1.0)
        acc = hl.zeros([tile_b, tile_m, head_dim], dtype=torch.float32)
        q = q_view[tile_b, tile_m, :]
        for tile_n in hl.tile(v_view.size(1)):
            # Online softmax, mirroring examples/attention.py.
            q_scaled = q * qk_scale
            k = k_view[tile_b, tile_n, :]
            qk = torch.bmm(q_scaled, k.transpose(1, 2), torch.float32)
            m_ij = torch.maximum(m_i, torch.amax(qk, -1))
            qk = qk - m_ij[:, :, None]
            p = torch.exp2(qk)
            l_ij = torch.sum(p, -1)
            alpha = torch.exp2(m_i - m_ij)
            l_i = l_i * alpha + l_ij
            acc = acc * alpha[:, :, None]
            v = v_view[tile_b, tile_n, :]
            p = p.to(v.dtype)
            acc = torch.baddbmm(acc, p, v)
            m_i = m_ij
        acc = acc / l_i[:, :, None]
        # XSA epilogue. Match ``F.normalize(v.float(), dim=-1, eps=eps)``:
        # divide by max(||v||, eps), not by sqrt(||v||^2 + eps).
        v_self = v_view[tile_b, tile_m, :].to(torch.float32)
        v_sq_sum = torch.sum(v_self * v_self, dim=-1, keepdim=True)
        v_norm = torch.sqrt(v_sq_sum)
        v_denom = torch.clamp(v_norm, min=eps)
        vn = v_self / v_denom
        proj = torch.sum(acc * vn, dim=-1, keepdim=True)
        z = acc - proj * vn
        out[tile_b, tile_m, :] = z.to(out.dtype)
    return out.view(q_in.size())


def ref_xsa(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Manual reference for the XSA forward (matmul + softmax + epilogue)."""
    sm_scale = 1.0 / math.sqrt(q.shape[-1])
    p = torch.matmul(q, k.transpose(-2, -1)) * sm_scale
    p = torch.softmax(p.float(), dim=-1).to(q.dtype)
    y = torch.matmul(p, v)
    vn = F.normalize(v.float(), dim=-1, eps=eps)
    z = y.float() - (y.float() * vn).sum(dim=-1, keepdim=True) * vn
    return z.to(y.dtype)
# fmt: on


def xsa_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    y = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v
    vn = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return y - (y * vn).sum(-1, keepdim=True) * vn


def reduction_length(shape: tuple[int, ...]) -> int:
    """T: each output row is a weighted sum over T keys."""
    return shape[2]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # N(0, 1) as the example: scores q.k / sqrt(D) of order one, outputs of order one.
    q, k, v = (torch.randn(shape, generator=generator).to(dtype) for _ in range(3))
    return q, k, v


SPEC = KernelSpec(
    name="ex_xsa",
    kernel=xsa_kernel,
    reference=xsa_reference,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (2, 32, 1024, 64) and (2, 4, 128, 64) are the example's own main() shapes.
    shapes=[(2, 32, 1024, 64), (2, 4, 128, 64)],
    small_shapes=[(1, 2, 16, 16), (2, 1, 33, 16)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # block_sizes = [batch*heads tile, query tile, key tile].
        "tiles16": helion.Config(block_sizes=[1, 16, 16], num_warps=4),
    },
    # fp32 dots run as tf32 on GPUs; in fp16/bf16 P is rounded to v's dtype before P @ V.
    dot_precision={torch.float32: "tf32", torch.float16: "fp16-operand", torch.bfloat16: "bf16-operand"},
    description="Helion example: exclusive self-attention forward (attention minus self-value projection)",
)
