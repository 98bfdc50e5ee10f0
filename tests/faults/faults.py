"""Fault-injection kernels: each fault is followed by a healthy kernel, which must still pass.

Not part of the bundled suite (kernels/): tests/test_faults.py runs this file on CPU with
``--isolate on``, and docs/gpu-runs.md records a GPU run of it next to the bundled suite:

    pytest kernels tests/faults -o kcheck_kernel_paths="kernels tests/faults" -n 8 --dist loadfile

``EXPECTED`` maps each spec to the category it must produce, per device. ``None`` means the
fault cannot be produced there: out-of-bounds stores and device asserts need a GPU (the
interpreter has no CUDA context to break), so those specs have no small (CPU) shapes.
"""

from __future__ import annotations

import ctypes

import helion
import helion.language as hl
import torch

from checker.categories import Category
from checker.spec import GoldenTracking, KernelSpec

CONFIG = helion.Config(block_sizes=[256], num_warps=4)
NO_GOLDEN = GoldenTracking(enabled=False)  # fault kernels are not codegen regressions to track
SMALL = [(1024,)]  # runs on CPU under the interpreter and on a GPU
FULL = [(1 << 20,)]  # GPU only (codegen-only on CPU)


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(*shape, generator=gen).to(dtype),)


@helion.kernel(static_shapes=True)
def add_one(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] + 1.0
    return out


def _healthy(after: str) -> KernelSpec:
    return KernelSpec(
        name=f"healthy_after_{after}",
        kernel=add_one,
        reference=lambda x: x + 1.0,
        make_inputs=_inputs,
        shapes=FULL,
        small_shapes=SMALL,
        dtypes=[torch.float32],
        configs={"default": CONFIG},
        golden=NO_GOLDEN,
        sample_configs=False,
    )


@helion.kernel(static_shapes=True)
def oob_store(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[idx[tile]] = x[tile]  # idx points 2**32 elements past the end
    return out


@helion.kernel(static_shapes=True)
def device_assert(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        v = x[tile]
        out[tile] = hl.inline_triton("tl.device_assert({0} != {0}, 'kcheck fault injection')\n{0}", [v], v)
    return out


def _assert_inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    # Triton drops tl.device_assert unless compiled in debug mode (TRITON_DEBUG is read once,
    # at import, so set the knob). The worker that runs this case is recycled after the assert
    # fires, so the setting dies with it.
    from triton import knobs

    knobs.runtime.debug = True
    return _inputs(shape, dtype, gen)


@helion.kernel(static_shapes=True)
def endless(x: torch.Tensor, steps: int) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        acc = x[tile]
        # steps**2 ~ 2**62 iterations (steps is cast to int32): endless on a GPU and on CPU
        for _ in hl.grid(steps):
            for _ in hl.grid(steps):
                acc = acc * 0.5 + 0.5
        out[tile] = acc
    return out


@helion.kernel(static_shapes=True)
def nan_output(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        v = x[tile]
        out[tile] = torch.where(v > 1.5, v * float("nan"), v + 1.0)
    return out


@helion.kernel(static_shapes=True)
def zero_output(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] * 0.0
    return out


@helion.kernel(static_shapes=True)
def wrong_shape(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0) // 2], dtype=x.dtype, device=x.device)
    for tile in hl.tile(x.size(0) // 2):
        out[tile] = x[tile] + 1.0
    return out


@helion.kernel(static_shapes=True)
def wrong_dtype(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty(x.size(), dtype=torch.float16, device=x.device)
    for tile in hl.tile(x.size(0)):
        out[tile] = (x[tile] + 1.0).to(torch.float16)
    return out


def _one_ulp_reference(x: torch.Tensor) -> torch.Tensor:
    # The kernel (add_one) is exact up to fp32 rounding; the reference moves element 0 by one
    # fp32 ulp more. Expected: passed (fp32's rtol 1.3e-6 is about 11 ulp), with the ulp visible
    # in the record's max_abs_err, so a 1-ulp difference is compared, not ignored.
    ref = x + 1.0
    first = ref[:1].float()
    ref[:1] = torch.nextafter(first, torch.full_like(first, float("inf"))).double()
    return ref


def _segfault_reference(x: torch.Tensor) -> torch.Tensor:
    ctypes.string_at(0)  # reads address 0: a real SIGSEGV of the process checking the case
    return x + 1.0


def _spec(name: str, kernel: object, **kw: object) -> KernelSpec:
    args: dict[str, object] = {
        "reference": lambda x, *_: x + 1.0,
        "make_inputs": _inputs,
        "shapes": FULL,
        "small_shapes": SMALL,
        "dtypes": [torch.float32],
        "configs": {"default": CONFIG},
        "golden": NO_GOLDEN,
        "sample_configs": False,
    }
    args.update(kw)
    return KernelSpec(name=name, kernel=kernel, **args)  # type: ignore[arg-type]


SPECS = [
    _spec(
        "oob_store",
        oob_store,
        make_inputs=lambda shape, dtype, gen: (
            *_inputs(shape, dtype, gen),
            torch.arange(shape[0], dtype=torch.int64) + (1 << 32),
        ),
        reference=lambda x, idx: x,
        small_shapes=[],
    ),
    _healthy("oob_store"),
    _spec("device_assert", device_assert, make_inputs=_assert_inputs, reference=lambda x: x, small_shapes=[]),
    _healthy("device_assert"),
    _spec(
        "endless",
        endless,
        make_inputs=lambda shape, dtype, gen: (*_inputs(shape, dtype, gen), (1 << 31) - 1),
        reference=lambda x, steps: torch.ones_like(x),
    ),
    _healthy("endless"),
    _spec("segfault", add_one, reference=_segfault_reference),
    _healthy("segfault"),
    _spec("nan_output", nan_output),
    _healthy("nan_output"),
    _spec("one_ulp", add_one, reference=_one_ulp_reference),
    _healthy("one_ulp"),
    _spec("zero_output", zero_output),
    _healthy("zero_output"),
    _spec("wrong_shape", wrong_shape),
    _healthy("wrong_shape"),
    _spec("wrong_dtype", wrong_dtype),
    _healthy("wrong_dtype"),
]

#: spec name -> (category on a GPU, category on CPU under the interpreter or None).
EXPECTED: dict[str, tuple[Category, Category | None]] = {
    "oob_store": (Category.ILLEGAL_MEMORY_ACCESS, None),
    "device_assert": (Category.DEVICE_ASSERT, None),
    "endless": (Category.RUN_TIMEOUT, Category.RUN_TIMEOUT),
    "segfault": (Category.WORKER_DIED, Category.WORKER_DIED),
    "nan_output": (Category.NONFINITE_MISMATCH, Category.NONFINITE_MISMATCH),
    "one_ulp": (Category.PASSED, Category.PASSED),
    "zero_output": (Category.NUMERICAL_MISMATCH, Category.NUMERICAL_MISMATCH),
    "wrong_shape": (Category.SHAPE_MISMATCH, Category.SHAPE_MISMATCH),
    "wrong_dtype": (Category.DTYPE_MISMATCH, Category.DTYPE_MISMATCH),
}
