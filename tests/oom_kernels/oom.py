"""Kernels whose memory runs out unless they have their device to themselves (tests/test_gpu_oom.py).

A case that runs out of GPU memory while other case workers share the GPU is run again holding
the GPU's lock exclusively, and only that run is the verdict (checker.exec_worker). These specs
raise torch's own ``OutOfMemoryError`` with the message a real CUDA OOM carries, unless their
process can see that the lock is held exclusively right now (a shared ``flock`` of the lock file,
tried without blocking from a descriptor of its own, fails only then): so they pass only in a
retry alone, and fail wherever the checker gives no such retry. ``oom_reference_always`` runs out
of memory alone too. Runs on CPU under the interpreter (the lock there is ``cpu``) and on a GPU.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import helion
import helion.language as hl
import torch
import triton
import triton.language as tl

from checker.exec_worker import gpu_lock_name
from checker.spec import GoldenTracking, KernelSpec
from checker.triton_spec import TritonKernel, TritonSpec

#: A real H100 message (issue 22), the requested size made round: 2.00 GiB = 2147483648 bytes.
OOM_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of "
    "which 1.12 GiB is free. Including non-PyTorch memory, this process has 3.10 GiB memory in use."
)
NO_GOLDEN = GoldenTracking(enabled=False)


def holds_device_alone() -> bool:
    """Whether some process of this run holds this device's lock exclusively right now."""
    run = os.environ.get("KCHECK_RUN_DIR")
    if not run:
        return False
    fd = os.open(
        Path(run) / f"{gpu_lock_name(torch.cuda.is_available())}.lock", os.O_RDWR | os.O_CREAT, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops the shared lock it may have taken
    return False


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(*shape, generator=gen).to(dtype),)


@helion.kernel(static_shapes=True)
def add_one(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] + 1.0
    return out


def _reference_unless_alone(x: torch.Tensor) -> torch.Tensor:
    if not holds_device_alone():
        raise torch.OutOfMemoryError(OOM_MESSAGE)
    return x + 1.0


def _reference_never_fits(x: torch.Tensor) -> torch.Tensor:
    raise torch.OutOfMemoryError(OOM_MESSAGE)


@triton.jit
def add_one_kernel(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)


def launch_unless_alone(kernel, x, *, BLOCK_SIZE):
    """The kernel's wrapper: its output allocation runs out of memory beside other cases."""
    if not holds_device_alone():
        raise torch.OutOfMemoryError(OOM_MESSAGE)
    y = torch.empty_like(x)
    kernel[(triton.cdiv(x.numel(), BLOCK_SIZE),)](x, y, x.numel(), BLOCK_SIZE=BLOCK_SIZE)
    return y


def _spec(name: str, reference) -> KernelSpec:
    return KernelSpec(
        name=name,
        kernel=add_one,
        reference=reference,
        make_inputs=_inputs,
        shapes=[(1 << 20,)],
        small_shapes=[(256,)],
        dtypes=[torch.float32],
        configs={"default": helion.Config(block_sizes=[64], num_warps=4)},
        golden=NO_GOLDEN,
        sample_configs=False,
    )


SPECS = [
    _spec("oom_reference_once", _reference_unless_alone),
    _spec("oom_reference_always", _reference_never_fits),
    _spec("fits", lambda x: x + 1.0),
    TritonSpec(
        name="oom_launch_once",
        kernel=TritonKernel(add_one_kernel, launch_unless_alone),
        reference=lambda x: x + 1.0,
        make_inputs=_inputs,
        shapes=[(1 << 20,)],
        small_shapes=[(256,)],
        dtypes=[torch.float32],
        configs={"b64": triton.Config({"BLOCK_SIZE": 64})},
        golden=NO_GOLDEN,
    ),
]
