"""GPU target profiles, and making Helion see the target instead of a CPU host.

Limits come from NVIDIA's CUDA C++ Programming Guide, "Technical Specifications per Compute
Capability" (max shared memory per block, opt-in) and the product data sheets (SM counts of
the A100 SXM, H100 SXM and B200). 232448 bytes is also the limit Triton reported on an H100 here
("Required 1048584 > 232448", docs/gpu-runs.md).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """One GPU target.

    Attributes:
        name: ``sm_90`` style name, used in records and golden paths.
        capability: CUDA compute capability as an int (90 for 9.0), as ``GPUTarget`` takes it.
        sm_count: streaming multiprocessors (Helion's persistent pid types size their grid by it).
        max_shared_memory: opt-in shared memory per block, bytes.
        max_threads_per_block: threads.
        warp_size: threads per warp.
        registers_per_block: 32-bit registers one block may use (65536 on sm_80..sm_100).
        register_alloc_unit: registers are allocated per warp in multiples of this (256).
    """

    name: str
    capability: int
    sm_count: int
    max_shared_memory: int
    max_threads_per_block: int = 1024
    warp_size: int = 32
    registers_per_block: int = 65536
    register_alloc_unit: int = 256


TARGETS: dict[str, Target] = {
    "sm_80": Target("sm_80", 80, sm_count=108, max_shared_memory=166912),
    "sm_90": Target("sm_90", 90, sm_count=132, max_shared_memory=232448),
    "sm_100": Target("sm_100", 100, sm_count=148, max_shared_memory=232448),
}
DEFAULT_TARGET = "sm_90"


def get_target(name: str) -> Target:
    """The profile called ``name``.

    Raises:
        KeyError: with the known names, for an unknown target.
    """
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(f"unknown target {name!r}; known: {', '.join(sorted(TARGETS))}") from None


def local_cuda_target() -> Target | None:
    """The profile of the local GPU (device 0), or None without a usable CUDA device."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    capability = props.major * 10 + props.minor
    return Target(
        name=f"sm_{capability}",
        capability=capability,
        sm_count=props.multi_processor_count,
        max_shared_memory=int(getattr(props, "shared_memory_per_block_optin", 0)),
        max_threads_per_block=int(getattr(props, "max_threads_per_block", 1024)),
        warp_size=int(getattr(props, "warp_size", 32)),
    )


_active: Target | None = None
_grid_sms: int | None = None

#: SM count that sizes persistent grids while a kernel runs under the interpreter. The
#: generated code does not depend on it (the launcher asks at run time), each program then
#: loops over more tiles, and a 5x70 rms_norm case takes 0.1 s instead of 39 s at 132 SMs x 128.
INTERPRETER_SM_COUNT = 2


@contextlib.contextmanager
def interpreter_grid(sm_count: int = INTERPRETER_SM_COUNT) -> Iterator[None]:
    """While active, ``get_num_sm`` of a CPU device answers ``sm_count``."""
    global _grid_sms
    saved, _grid_sms = _grid_sms, sm_count
    try:
        yield
    finally:
        _grid_sms = saved


def use_target_on_cpu(target: Target) -> None:
    """Make Helion see ``target`` when it asks about a CPU device.

    Helion 1.4.0 raises ``AssertionError: TODO: implement for other devices`` when a persistent
    pid type asks the SM count of a CPU device (in codegen and again in the generated launcher),
    and ``RuntimeError: No supported GPU or TPU device found`` when its config heuristics ask
    ``get_hardware_info`` on a machine without a GPU. With this, ``get_num_sm`` answers
    ``target.sm_count`` and ``get_hardware_info`` answers (cuda, sm<capability>) for CPU
    devices, so CPU runs generate what Helion would for the target. Other devices are answered
    by Helion as before.
    """
    global _active
    import helion._hardware as hw
    import helion.runtime as hr

    _active = target
    if getattr(hr.get_num_sm, "_kcheck_patched", False):
        return
    original_info = hw.get_hardware_info

    @functools.wraps(original_info)
    def get_hardware_info(device: Any = None) -> Any:
        if _active is not None and (device is None or getattr(device, "type", None) == "cpu"):
            return hw.HardwareInfo(
                device_kind="cuda",
                hardware_name=f"kcheck target {_active.name}",
                runtime_version="-",
                compute_capability=f"sm{_active.capability}",
            )
        return original_info(device)

    hw.get_hardware_info = get_hardware_info
    _patch_min_dot_size()
    _patch_feature_queries()
    original = hr.get_num_sm

    @functools.wraps(original)
    def get_num_sm(device: Any, *, reserved_sms: int = 0) -> int:
        if getattr(device, "type", device) == "cpu" and _active is not None:
            return max(1, (_grid_sms or _active.sm_count) - reserved_sms)
        return original(device, reserved_sms=reserved_sms)

    get_num_sm._kcheck_patched = True  # type: ignore[attr-defined]
    hr.get_num_sm = get_num_sm


def _patch_min_dot_size() -> None:
    """Answer Helion's smallest-dot question for CPU devices as Triton does for the target.

    Helion 1.4.0 (helion/_compat.py ``_min_dot_size``, "a private func we can patch") answers
    (16, 16, 16) for a CPU device, while for a CUDA device it asks Triton's
    ``triton.backends.nvidia.compiler.min_dot_size``, which requires K >= 32 for fp8. Without
    this, configs sampled on CPU for fp8 dots include K=16 blocks that Helion never proposes
    for an H100 and that Triton rejects ("Input shapes should have M >= 1, N >= 1 and K >= 32"):
    40 false compiler-crash records in the CPU main job.
    """
    import helion._compat as compat

    original = getattr(compat, "_min_dot_size", None)
    if original is None or getattr(original, "_kcheck_patched", False):
        return

    def min_dot_size(device: Any, lhs: Any, rhs: Any) -> tuple[int, int, int]:
        if _active is not None and getattr(device, "type", None) == "cpu":
            from triton.backends.compiler import GPUTarget
            from triton.backends.nvidia.compiler import min_dot_size as nvidia_min_dot_size

            target = GPUTarget("cuda", _active.capability, _active.warp_size)
            size = nvidia_min_dot_size(target)(compat.torch_dtype_to_tl(lhs), compat.torch_dtype_to_tl(rhs))
            return (int(size[0]), int(size[1]), int(size[2]))
        result: tuple[int, int, int] = original(device, lhs, rhs)
        return result

    min_dot_size._kcheck_patched = True  # type: ignore[attr-defined]
    compat._min_dot_size = min_dot_size


def _patch_feature_queries() -> None:
    """Answer Helion's device-feature questions as an sm_XX GPU would, on a CPU-only machine.

    Helion 1.4.0 builds its config space from process-wide queries that look at the local CUDA
    device (helion/_compat.py): ``_supports_tensor_descriptor`` (TMA ``tensor_descriptor``
    indexing, capability >= 9.0), ``_supports_maxnreg`` (the ``maxnreg`` key), ``_regs_per_block``
    (caps ``maxnreg``) and ``num_compute_units`` (minimum grid-dimension block sizes, in
    helion/autotuner/config_spec.py). Without a GPU they say "no TMA, no maxnreg, 128 units", and
    configs sampled on CPU for sm_90 came out different from those an H100 sampled for the same
    seed (``block_ptr`` where the H100 had ``tensor_descriptor``, no ``maxnreg``, other block
    sizes). With this, a machine without a GPU answers for the active target; a machine with one
    answers as before.
    """
    import helion._compat as compat
    import helion.autotuner.config_spec as config_spec
    import torch

    if getattr(compat._supports_tensor_descriptor, "_kcheck_patched", False):
        return

    def answer(original: Any, for_target: Callable[[Target], Any]) -> Any:
        @functools.wraps(original)
        def patched() -> Any:
            if _active is not None and not torch.cuda.is_available():
                return for_target(_active)
            return original()

        patched._kcheck_patched = True  # type: ignore[attr-defined]
        return patched

    def tensor_descriptor(target: Target) -> bool:
        import triton.language as tl

        return target.capability >= 90 and hasattr(tl, "make_tensor_descriptor")

    compat._supports_tensor_descriptor = answer(compat._supports_tensor_descriptor, tensor_descriptor)
    compat._supports_maxnreg = answer(compat._supports_maxnreg, lambda _: True)
    # Imported by name into config_spec, so patched there.
    config_spec._regs_per_block = answer(config_spec._regs_per_block, lambda t: t.registers_per_block)
    config_spec.num_compute_units = answer(config_spec.num_compute_units, lambda t: t.sm_count)
