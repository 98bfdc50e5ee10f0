# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/epilogue_subtiling.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `matmul_bias_residual_gelu_cast` and
# `matmul_bias_gelu_aux` are copied verbatim (between `fmt: off/on`); dropped `check()` (its
# baselines are rewritten below as the references) and `main()`; added this header, the module
# docstring, the references, make_inputs and SPECS. The section comments between the kernels
# are left out.
"""Matmuls with heavy epilogues (Helion example ``epilogue_subtiling``).

Shape convention: ``(M, K, N)``: ``x`` is ``[M, K]``, ``w`` ``[K, N]``, ``bias`` ``[N]``,
``residual`` ``[M, N]``, all in the swept dtype; fp32 accumulation.
``matmul_bias_residual_gelu_cast`` returns ``gelu(1.25 x@w + 0.5 residual + bias)``;
``matmul_bias_gelu_aux`` returns ``(gelu(pre), pre)`` with ``pre = 1.25 x@w + bias``. Outputs
are ``[M, N]`` in the swept dtype. (The example is about Blackwell's epilogue subtiling, a
config knob; the kernels themselves run on any GPU.)
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel(static_shapes=True)
def matmul_bias_residual_gelu_cast(
    x: torch.Tensor,
    w: torch.Tensor,
    bias: torch.Tensor,
    residual: torch.Tensor,
) -> torch.Tensor:
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)

    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n])

        val = acc * 1.25
        val = val + residual[tile_m, tile_n].to(torch.float32) * 0.5
        val = val + bias[tile_n]
        val = torch.nn.functional.gelu(val)
        out[tile_m, tile_n] = val.to(x.dtype)

    return out


@helion.kernel(static_shapes=True)
def matmul_bias_gelu_aux(
    x: torch.Tensor,
    w: torch.Tensor,
    bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    m, k = x.size()
    _, n = w.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    aux = torch.empty([m, n], dtype=x.dtype, device=x.device)

    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], w[tile_k, tile_n])

        pre = acc * 1.25
        pre = pre + bias[tile_n]
        aux[tile_m, tile_n] = pre.to(x.dtype)
        out[tile_m, tile_n] = torch.nn.functional.gelu(pre).to(x.dtype)

    return out, aux
# fmt: on


def residual_gelu_reference(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor, residual: torch.Tensor
) -> torch.Tensor:
    return torch.nn.functional.gelu((x @ w) * 1.25 + residual * 0.5 + bias)


def gelu_aux_reference(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    pre = (x @ w) * 1.25 + bias
    return torch.nn.functional.gelu(pre), pre


def reduction_length(shape: tuple[int, ...]) -> int:
    """K: each output element sums K products before the epilogue."""
    return shape[1]


def _operands(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m, k, n = shape
    # The example uses unit normals; the K**-0.25 factor keeps x@w O(1) for any K, so the GELU
    # sees both of its regimes.
    std = k**-0.25
    x = (torch.randn((m, k), generator=generator) * std).to(dtype)
    w = (torch.randn((k, n), generator=generator) * std).to(dtype)
    bias = torch.randn((n,), generator=generator).to(dtype)
    return x, w, bias


def make_residual_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x, w, bias = _operands(shape, dtype, generator)
    residual = torch.randn((shape[0], shape[2]), generator=generator).to(dtype)
    return x, w, bias, residual


def make_aux_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _operands(shape, dtype, generator)


def _spec(
    name: str, kernel: object, reference: object, make: object, what: str, **extra: object
) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=kernel,
        reference=reference,  # type: ignore[arg-type]
        make_inputs=make,  # type: ignore[arg-type]
        reduction_length=reduction_length,
        # (8192, 8192, 8192) is the example's own shape (main()).
        shapes=[(8192, 8192, 8192), (1000, 1536, 777)],
        small_shapes=[(16, 32, 16), (24, 40, 33)],
        dtypes=[torch.float32, torch.float16, torch.bfloat16],
        configs={
            "default": DEFAULT,
            # block_sizes = [M, N, K] tiles.
            "tiles": helion.Config(block_sizes=[64, 32, 32], num_warps=4, num_stages=3),
        },
        # fp32 dots run as tf32 on GPUs (Helion's default dot_precision).
        dot_precision={torch.float32: "tf32"},
        description=f"Helion example: matmul with {what} epilogue",
        **extra,  # type: ignore[arg-type]
    )


SPECS = [
    _spec(
        "ex_matmul_residual_gelu",
        matmul_bias_residual_gelu_cast,
        residual_gelu_reference,
        make_residual_inputs,
        "scale, residual, bias and GELU",
    ),
    _spec(
        "ex_matmul_gelu_aux",
        matmul_bias_gelu_aux,
        gelu_aux_reference,
        make_aux_inputs,
        "bias and GELU, pre-activation as a second output",
        outputs=[Output("out"), Output("aux")],
    ),
]
