"""Shared fixtures: tiny kernel modules written into pytester directories."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_compile_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets a cold compile cache of its own (checker/cache/): a test that runs the
    checker in a subprocess would otherwise read and fill the user's ~/.cache/kcheck, and one
    test's compiles would turn into another's cache hits."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # The cache's signing key (checker/cache/store.py) lives under XDG_CONFIG_HOME: the test's own, not
    # the user's ~/.config/kcheck/cache-key.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    # Compile budgets at the GPU host's speed: every test's cold cache would otherwise measure
    # the host (checker.hostspeed, seconds of CPU) and scale its timeouts by a factor that
    # differs between machines. tests/test_compile_budget.py measures for real.
    monkeypatch.setenv("KCHECK_HOST_SPEED", "1")


# fake_github: the gh_server and waits fixtures of the comment-posting tests (test_post, test_untrusted).
pytest_plugins = ["pytester", "fake_github"]

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


MATMUL = textwrap.dedent(
    """
    import helion
    import helion.language as hl
    import torch

    from checker.spec import DEFAULT, KernelSpec, Tolerance


    @helion.kernel(static_shapes=True)
    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        m, k = a.size()
        _, n = b.size()
        out = torch.empty([m, n], dtype=a.dtype, device=a.device)
        for tile_m, tile_n in hl.tile([m, n]):
            acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
            for tile_k in hl.tile(k):
                acc = torch.addmm(acc, a[tile_m, tile_k], b[tile_k, tile_n])
            out[tile_m, tile_n] = acc.to(out.dtype)
        return out


    SPEC = KernelSpec(
        name="mm",
        kernel=mm,
        reference=lambda a, b: a @ b,
        make_inputs=lambda shape, dtype, gen: (
            torch.randn(shape[0], shape[2], generator=gen).to(dtype),
            torch.randn(shape[2], shape[1], generator=gen).to(dtype),
        ),
        shapes=[(512, 512, 512)],
        small_shapes=[],
        dtypes=[torch.float32],
        # tf32 dots (Triton's default for fp32 on a GPU) over K=512 unscaled randn products: on
        # the H100 the policy's tf32 tolerance left 0.4% of elements out (max abs err 0.078).
        tolerances={torch.float32: Tolerance(1e-2, 1e-1, "tf32 dot, K=512, unit-variance inputs")},
        configs={
            "default": DEFAULT,
            # 256x256 fp32 tiles, K step 128, 4 stages: far over sm_90's 232448 bytes of smem.
            "huge": helion.Config(block_sizes=[256, 256, 128], num_warps=8, num_stages=4),
        },
    )
    """
)


@pytest.fixture
def compile_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    # add on a 2048x1024 full shape: block [2048, 1024] needs a 2M-element tile (Triton max 1M).
    add = ADD_KERNEL.replace("REFERENCE", "reference").replace("EXTRA", "")
    add = add.replace("shapes=[(64, 96)]", "shapes=[(2048, 1024)]").replace(
        "small_shapes=[(8, 16)]", "small_shapes=[]"
    )
    add = add.replace("block_sizes=[8, 16], num_warps=2", "block_sizes=[2048, 1024], num_warps=4")
    add = add.replace("dtypes=[torch.float32, torch.float16]", "dtypes=[torch.float32]")
    (pytester.path / "kernels" / "add.py").write_text(add)
    (pytester.path / "kernels" / "mm.py").write_text(MATMUL)
    return pytester
