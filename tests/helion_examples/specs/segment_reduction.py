# Third-party test data: a kernel from Helion's examples, wrapped in a kcheck kernel spec.
# Source: https://github.com/pytorch/helion/blob/v1.4.0/examples/segment_reduction.py
# License: BSD-3-Clause, Copyright (c) Meta Platforms, Inc. and affiliates (./LICENSE).
# Changes: the module-level combine function `combine_fn_helion` and the @helion.kernel
# `segmented_reduction_helion` are copied verbatim (between `fmt: off/on`); the reference is the
# example's `segmented_reduction_pytorch`, copied verbatim; dropped the Triton implementation
# and `main()`; added this header, the module docstring, make_inputs and SPEC.
"""Segmented reduction (Helion example ``segment_reduction``): sum rows of equal segment index.

Shape convention: ``(NUM_NODES, E, C)``: ``indices`` is a sorted int64 ``[E]`` of segment ids in
``[0, NUM_NODES)``, ``input_data`` is ``[E, C]``; the output ``[NUM_NODES, C]`` sums the rows of
each segment. Each tile of E runs ``hl.associative_scan`` with the module-level
``combine_fn_helion`` (segmented add), then ``hl.atomic_add``s the last value of each segment
into a zero-initialized output. fp32 only, as the example.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec


# fmt: off
def combine_fn_helion(
    left_values: torch.Tensor,
    left_indices: torch.Tensor,
    right_values: torch.Tensor,
    right_indices: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Combine function for associative scan in Helion implementation.

    Adds values when indices match (same segment), otherwise takes the right value.

    Args:
        left_values: Values from the left side of the scan
        left_indices: Indices from the left side of the scan
        right_values: Values from the right side of the scan
        right_indices: Indices from the right side of the scan

    Returns:
        Tuple of (combined_values, right_indices)
    """
    combined_values = torch.where(
        left_indices == right_indices, left_values + right_values, right_values
    )
    return combined_values, right_indices


@helion.kernel()
def segmented_reduction_helion(
    indices: torch.Tensor, input_data: torch.Tensor, num_nodes: int
) -> torch.Tensor:
    """
    Performs segmented reduction using Helion.

    Reduces input data by summing values with the same index.

    Args:
        indices: Tensor of segment indices for each element
        input_data: Input tensor of shape [num_elements, num_features]
        num_nodes: Number of output nodes/segments

    Returns:
        Output tensor of shape [num_nodes, num_features] with reduced values
    """
    num_elements, num_features = input_data.shape
    output = torch.zeros(
        (num_nodes, num_features), dtype=input_data.dtype, device=input_data.device
    )
    for tile_e, tile_f in hl.tile([num_elements, num_features]):
        vals = input_data[tile_e, tile_f]
        idxs = indices[tile_e]
        idxs_next = hl.load(
            indices, [tile_e.index + 1], extra_mask=tile_e.index < num_elements - 1
        )
        tuple_in = (vals, idxs.float().unsqueeze(1).expand_as(vals))
        out_vals, _ = hl.associative_scan(combine_fn_helion, tuple_in, dim=0)
        mask = (idxs != idxs_next) | (
            tile_e.index % tile_e.block_size == tile_e.block_size - 1
        )
        segment_vals = torch.where(mask.unsqueeze(1), out_vals, 0.0)
        hl.atomic_add(output, [idxs, tile_f], segment_vals)
    return output


def segmented_reduction_pytorch(
    indices: torch.Tensor, input_data: torch.Tensor, num_nodes: int
) -> torch.Tensor:
    """
    Performs segmented reduction using PyTorch's scatter_add.

    Reference implementation using PyTorch's native operations.

    Args:
        indices: Tensor of segment indices for each element
        input_data: Input tensor of shape [num_elements, num_features]
        num_nodes: Number of output nodes/segments

    Returns:
        Output tensor of shape [num_nodes, num_features] with reduced values
    """
    # Run PyTorch reference (scatter_add equivalent)
    num_features = input_data.size(1)
    pytorch_output = torch.zeros(
        num_nodes, num_features, device=input_data.device, dtype=input_data.dtype
    )
    pytorch_output.scatter_add_(
        0, indices.unsqueeze(1).expand(-1, num_features), input_data
    )
    return pytorch_output
# fmt: on


def reduction_length(shape: tuple[int, ...]) -> int:
    """E: an upper bound of the rows one segment sums (about E / NUM_NODES on average)."""
    return shape[1]


def make_inputs(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, int]:
    num_nodes, num_edges, num_features = shape
    # As the example: sorted random segment ids (some segments empty, some long).
    indices = torch.randint(0, num_nodes, (num_edges,), generator=generator).sort()[0]
    # Scaled by sqrt(NUM_NODES / E) so segment sums are of order one.
    scale = (num_nodes / num_edges) ** 0.5
    input_data = torch.randn((num_edges, num_features), generator=generator) * scale
    return indices, input_data.to(dtype), num_nodes


SPEC = KernelSpec(
    name="ex_segment_reduction",
    kernel=segmented_reduction_helion,
    reference=segmented_reduction_pytorch,
    make_inputs=make_inputs,
    reduction_length=reduction_length,
    # (100, 2000, 128) is the example's own shape.
    shapes=[(100, 2000, 128), (1000, 65536, 256)],
    small_shapes=[(10, 64, 16), (7, 50, 8)],
    dtypes=[torch.float32],
    configs={
        "default": DEFAULT,
        # block_sizes = [E tile (the scan length), C tile]: segments straddle scan tiles.
        "scan16": helion.Config(block_sizes=[16, 8], num_warps=4),
    },
    # Third-party kernels: no golden files of their generated code are kept.
    description="Helion example: segmented sum with hl.associative_scan and atomic adds",
)
