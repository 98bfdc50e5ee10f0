"""Shared fixtures: tiny kernel modules written into pytester directories."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

ADD_KERNEL = textwrap.dedent(
    '''
    """Elementwise add, the smallest real Helion kernel."""
    import helion
    import helion.language as hl
    import torch

    from checker.spec import DEFAULT, KernelSpec


    @helion.kernel(static_shapes=True)
    def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for tile in hl.tile(x.size()):
            out[tile] = x[tile] + y[tile]
        return out


    def make_inputs(shape, dtype, gen):
        return (torch.randn(shape, generator=gen).to(dtype), torch.randn(shape, generator=gen).to(dtype))


    def reference(x, y):
        return x + y

    EXTRA

    SPEC = KernelSpec(
        name="add",
        kernel=add,
        reference=REFERENCE,
        make_inputs=make_inputs,
        shapes=[(64, 96)],
        small_shapes=[(8, 16)],
        dtypes=[torch.float32, torch.float16],
        configs={"default": DEFAULT, "wide": helion.Config(block_sizes=[8, 16], num_warps=2)},
    )
    '''
)


def kernel_source(reference: str = "reference", extra: str = "") -> str:
    """Source of the add kernel module; ``reference`` names the reference function to use."""
    return ADD_KERNEL.replace("REFERENCE", reference).replace("EXTRA", textwrap.dedent(extra))


@pytest.fixture
def kernel_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with kernels/add.py and an ini naming kernels/ as kernel path."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "add.py").write_text(kernel_source())
    return pytester
