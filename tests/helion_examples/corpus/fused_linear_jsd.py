# Third-party test data: kernels from Helion's examples, wrapped in kcheck kernel specs.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/fused_linear_jsd.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the @helion.kernel functions `jsd_kernel` and `fused_linear_jsd_kernel` are copied
# verbatim (between `fmt: off/on`; the section comments between them are left out); dropped the
# chunking autograd Function and its wrappers (host code that calls `jsd_kernel` once per chunk
# of rows after a PyTorch matmul), the tritonbench wrapper, the reference, `check()` and
# `main()`; added this header, the module docstring, the references, make_inputs and SPECS.
# ruff: noqa: RUF059 (the copied jsd_kernel unpacks an unused size; it is kept verbatim)
"""Jensen-Shannon divergence on logits (Helion example ``fused_linear_jsd``).

Shape convention: ``(N, V)``: ``student_logits`` and ``teacher_logits`` are ``[N, V]`` in the
swept dtype; the kernels take ``beta``, ``ignore_index`` and ``temperature`` first (0.5, -100
and 1.0, the example's check()). ``jsd_kernel`` returns each row's JSD ``[N]`` fp32 and its
gradient with respect to the student logits ``[N, V]`` fp32 (the example runs it on chunks of
rows, ``[32, 128256]`` for its main() shape); ``fused_linear_jsd_kernel`` returns the mean JSD,
a 0-d fp32 tensor.
"""

from __future__ import annotations

import helion
import helion.exc
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec, Output


# fmt: off
@helion.kernel()
def jsd_kernel(
    beta: float,
    ignore_index: int,
    temperature: float,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Compute JSD loss and gradient w.r.t. student logits for a chunk.

    Args:
        beta: Interpolation coefficient for JSD (0 = student only, 1 = teacher only)
        ignore_index: Label index to ignore (unused in label-free version)
        temperature: Temperature for softmax
        student_logits: Student model logits [chunk_size, vocab_size]
        teacher_logits: Teacher model logits [chunk_size, vocab_size]

    Returns:
        loss: Per-sample JSD loss [chunk_size]
        grad_student_logits: Gradient w.r.t. student logits [chunk_size, vocab_size]
    """
    chunk_size, vocab_size = student_logits.size()
    loss = student_logits.new_empty(chunk_size, dtype=torch.float)
    grad_student_logits = torch.empty_like(student_logits, dtype=torch.float)

    for tile in hl.tile(chunk_size):
        # Scale by temperature
        student_scaled = student_logits[tile, :] / temperature
        teacher_scaled = teacher_logits[tile, :] / temperature

        # Compute softmax probabilities
        student_prob = torch.softmax(student_scaled.to(torch.float), dim=-1)
        teacher_prob = torch.softmax(teacher_scaled.to(torch.float), dim=-1)

        # Compute log probabilities for KL divergence
        student_log_prob = torch.log_softmax(student_scaled.to(torch.float), dim=-1)
        teacher_log_prob = torch.log_softmax(teacher_scaled.to(torch.float), dim=-1)

        # Compute mixture distribution: m = (1-beta)*student + beta*teacher
        m = (1 - beta) * student_prob + beta * teacher_prob
        log_m = torch.log(m)

        # JSD = (1-beta) * KL(student || m) + beta * KL(teacher || m)
        # KL(p || q) = sum(p * (log(p) - log(q)))
        student_kl = (student_prob * (student_log_prob - log_m)).sum(dim=-1)
        teacher_kl = (teacher_prob * (teacher_log_prob - log_m)).sum(dim=-1)
        jsd_loss = (1 - beta) * student_kl + beta * teacher_kl

        loss[tile] = jsd_loss

        # Gradient of JSD w.r.t. student logits
        # d(JSD)/d(student_logits) = (1-beta)/T * (student_prob - m)
        # This comes from the chain rule through softmax
        grad_tile = ((1 - beta) / temperature) * (student_prob - m)
        grad_student_logits[tile, :] = grad_tile

    return loss, grad_student_logits


@helion.kernel(ignore_warnings=[helion.exc.TensorOperationInWrapper])
def fused_linear_jsd_kernel(
    beta: float,
    ignore_index: int,
    temperature: float,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
) -> torch.Tensor:
    """
    Compute JSD loss from pre-computed logits.

    This kernel is kept for unit testing the JSD computation in isolation.
    For memory-efficient fused linear + JSD, use fused_linear_jsd_fwd instead.
    """
    batch_size, _vocab_size = student_logits.size()
    loss = student_logits.new_empty(batch_size, dtype=torch.float)

    for tile in hl.tile(batch_size):
        # Scale by temperature
        student_scaled = student_logits[tile, :] / temperature
        teacher_scaled = teacher_logits[tile, :] / temperature

        # Compute softmax probabilities
        student_prob = torch.softmax(student_scaled.to(torch.float), dim=-1)
        teacher_prob = torch.softmax(teacher_scaled.to(torch.float), dim=-1)

        # Compute log probabilities for KL divergence
        student_log_prob = torch.log_softmax(student_scaled.to(torch.float), dim=-1)
        teacher_log_prob = torch.log_softmax(teacher_scaled.to(torch.float), dim=-1)

        # Compute mixture distribution: m = (1-beta)*student + beta*teacher
        m = (1 - beta) * student_prob + beta * teacher_prob
        log_m = torch.log(m)

        # JSD = (1-beta) * KL(student || m) + beta * KL(teacher || m)
        student_kl = (student_prob * (student_log_prob - log_m)).sum(dim=-1)
        teacher_kl = (teacher_prob * (teacher_log_prob - log_m)).sum(dim=-1)
        jsd_loss = (1 - beta) * student_kl + beta * teacher_kl

        loss[tile] = jsd_loss

    return (loss / batch_size).sum()
# fmt: on


_BETA, _IGNORE_INDEX, _TEMPERATURE = 0.5, -100, 1.0


def _jsd_terms(
    beta: float, temperature: float, student_logits: torch.Tensor, teacher_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-row JSD, the student's probabilities and the mixture m = (1-beta) p_s + beta p_t."""
    log_p = torch.log_softmax(student_logits / temperature, dim=-1)
    log_q = torch.log_softmax(teacher_logits / temperature, dim=-1)
    mix = (1 - beta) * log_p.exp() + beta * log_q.exp()
    log_mix = mix.log()
    kl_student = (log_p.exp() * (log_p - log_mix)).sum(-1)
    kl_teacher = (log_q.exp() * (log_q - log_mix)).sum(-1)
    return (1 - beta) * kl_student + beta * kl_teacher, log_p.exp(), mix


def jsd_chunk_reference(
    beta: float,
    ignore_index: int,
    temperature: float,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    loss, p_student, mix = _jsd_terms(beta, temperature, student_logits, teacher_logits)
    return loss, (1 - beta) / temperature * (p_student - mix)


def jsd_mean_reference(
    beta: float,
    ignore_index: int,
    temperature: float,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
) -> torch.Tensor:
    return _jsd_terms(beta, temperature, student_logits, teacher_logits)[0].mean()


def reduction_length(shape: tuple[int, ...]) -> int:
    """V: each row's softmaxes and KL sums run over V entries."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[float, int, float, torch.Tensor, torch.Tensor]:
    n, v = shape
    # Logits of standard deviation 2: peaked distributions that still differ between the two
    # models (the example's rand() @ rand() logits are ~1000 +- 20, which the softmax shifts).
    student = (torch.randn((n, v), generator=generator) * 2.0).to(dtype)
    teacher = (torch.randn((n, v), generator=generator) * 2.0).to(dtype)
    return _BETA, _IGNORE_INDEX, _TEMPERATURE, student, teacher


_COMMON: dict[str, object] = dict(
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    small_shapes=[(4, 128), (3, 100)],
    dtypes=[torch.float32, torch.bfloat16],
)

SPECS = [
    KernelSpec(
        name="ex_jsd_chunk",
        kernel=jsd_kernel,
        reference=jsd_chunk_reference,
        # (32, 128256) is the chunk the example's main() hands jsd_kernel (1024 rows,
        # hidden 4096, vocabulary 128256: chunks of 32 rows).
        shapes=[(32, 128256), (1024, 32000)],
        configs={
            "default": DEFAULT,
            # One row per program, vocabulary looped in 4096-wide chunks.
            "row_loop": helion.Config(block_sizes=[1], reduction_loops=[4096], num_warps=8),
        },
        outputs=[
            Output("loss", dtype=torch.float32),
            Output("grad_student_logits", dtype=torch.float32),
        ],
        description="Helion example: per-row JSD and its gradient for a chunk of logits",
        **_COMMON,  # type: ignore[arg-type]
    ),
    KernelSpec(
        name="ex_jsd_mean",
        kernel=fused_linear_jsd_kernel,
        reference=jsd_mean_reference,
        # (1024, 128256) is the example's main() shape (all rows at once).
        shapes=[(1024, 128256), (4096, 32000)],
        configs={
            "default": DEFAULT,
            "row_loop": helion.Config(block_sizes=[1], reduction_loops=[4096], num_warps=8),
        },
        output_dtypes={torch.float32: torch.float32, torch.bfloat16: torch.float32},
        description="Helion example: mean JSD over rows of logits",
        **_COMMON,  # type: ignore[arg-type]
    ),
]
