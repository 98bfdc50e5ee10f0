"""Block absmax scaling: the scale half of 128x128 block-wise fp8 quantization.

Shape convention: ``(M, N)`` is the shape of ``x``; both are multiples of 128. ``x`` is cut into
128x128 blocks (the weight-quantization granularity of DeepSeek-V3-style fp8 training); the
kernel returns ``(y, peak)``: ``peak[i, j] = max(|x|)`` over block ``(i, j)`` (shape
``(M/128, N/128)``) and ``y = x / peak`` of its block (shape ``(M, N)``, values in [-1, 1]),
both in the input dtype. A quantizer multiplies ``y`` by the fp8 format's largest value (448
for e4m3) and stores ``peak / 448`` as the block's scale.

Why it is in the suite: each program holds a ``[tile_m, 128, tile_n, 128]`` register tile, so
its numel is ``tile_m * tile_n * 16384``. Helion 1.4 does not turn that into a constraint on the
sampled block sizes (the two fixed 128-wide dimensions are reduction dimensions, not tunable
block sizes, so its numel-constraint extraction skips the expression: pytorch/helion#3176,
fixed upstream after 1.4 by pytorch/helion#3194), so about a third of the sampled configs of a
full shape overflow Triton's 2**20-element tensor limit: real ``numel-overflow`` records from
Helion's own config space.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec

BLOCK = 128  # quantization block edge, elements


@helion.kernel(static_shapes=True)
def block_absmax(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = x.shape
    mb = m // 128
    nb = n // 128
    xv = x.view(mb, 128, nb, 128)
    y = torch.empty_like(x)
    yv = y.view(mb, 128, nb, 128)
    peak = torch.empty([mb, nb], dtype=x.dtype, device=x.device)
    for tm, tn in hl.tile([mb, nb]):
        blk = xv[tm, :, tn, :].to(torch.float32)
        col_peak = torch.amax(torch.abs(blk), dim=3)
        blk_peak = torch.amax(col_peak, dim=1)
        peak[tm, tn] = blk_peak.to(peak.dtype)
        yv[tm, :, tn, :] = (blk / blk_peak[:, None, :, None]).to(y.dtype)
    return y, peak


def block_absmax_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = x.shape
    xv = x.view(m // BLOCK, BLOCK, n // BLOCK, BLOCK)
    peak = xv.abs().amax(dim=(1, 3))
    return (xv / peak[:, None, :, None]).view(m, n), peak


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor]:
    m, n = shape
    if m % BLOCK or n % BLOCK:
        raise ValueError(f"block_absmax: shape {shape} is not a multiple of {BLOCK}")
    # Blocks with different magnitudes (row scale 0.1..10), so a wrong block-to-peak mapping
    # shows up as a mismatch instead of cancelling out.
    scale = torch.logspace(-1, 1, m, dtype=torch.float32)[:, None]
    x = torch.randn((m, n), generator=generator, dtype=torch.float32) * scale
    return (x.to(dtype),)


SPEC = KernelSpec(
    name="block_absmax",
    kernel=block_absmax,
    reference=block_absmax_reference,
    make_inputs=make_inputs,
    shapes=[(4096, 4096), (8192, 2048)],
    small_shapes=[(256, 384), (128, 128)],
    dtypes=[torch.float32, torch.float16, torch.bfloat16],
    configs={
        "default": DEFAULT,
        # One 128x128 block per program, 8 warps (64 fp32 values per thread).
        "one_block": helion.Config(block_sizes=[1, 1], num_warps=8),
        # Two blocks side by side per program: a 32768-element tile.
        "two_wide": helion.Config(block_sizes=[1, 2], num_warps=8),
    },
    description="per-128x128-block absmax and x / absmax (fp8 block-scale preparation)",
)
