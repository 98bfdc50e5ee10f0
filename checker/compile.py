"""Cross-compiling generated Triton for a GPU target, on any machine (no GPU needed).

The generated host function is called with a capturing launcher instead of Helion's, which
records the Triton kernel, its arguments and launch options without running anything. The
arguments are then specialized the way Triton's JIT would on a GPU of that target (the same
``create_function_from_signature`` binder and ``_pack_args``, with the target's backend), and
``triton.compile(ASTSource(...), target=GPUTarget(...))`` builds ttir -> ttgir -> llir -> ptx ->
cubin; ptxas ships in the triton wheel. Runs in the compile worker (checker.pool), where
TRITON_INTERPRET is off.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from dataclasses import dataclass
from typing import Any

import torch

from checker import codegen
from checker.targets import Target


@dataclass(frozen=True)
class TensorArg:
    """A tensor argument by layout only (shape, stride, dtype); compiling needs no values."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype

    def materialize(self) -> torch.Tensor:
        return torch.empty_strided(self.shape, self.stride, dtype=self.dtype)


def describe_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Kernel arguments with tensors replaced by TensorArg, cheap to send to a worker."""
    return tuple(
        TensorArg(tuple(a.shape), tuple(a.stride()), a.dtype) if isinstance(a, torch.Tensor) else a
        for a in args
    )


@dataclass(frozen=True)
class CompileResult:
    """What compiling one case for a target produced.

    Attributes:
        seconds: wall time of ``triton.compile``.
        shared_memory: shared memory per block the kernel needs, bytes.
        num_warps, num_stages: the compiled options.
        registers: registers per thread reported by ptxas, or None if it printed none.
        spills: bytes of spill stores reported by ptxas, or None.
    """

    seconds: float
    shared_memory: int
    num_warps: int
    num_stages: int
    registers: int | None
    spills: int | None

    def fields(self) -> dict[str, Any]:
        return {
            "compile_s": round(self.seconds, 4),
            "shared_memory": self.shared_memory,
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "registers": self.registers,
            "spills": self.spills,
        }


class OutOfResources(Exception):
    """The compiled kernel needs more of a resource than the target has (checked without a GPU;
    the message has Triton's own format so one classifier rule serves both)."""


class _Captured(Exception):
    pass


def capture_launch(entry: Any, args: tuple[Any, ...]) -> tuple[Any, dict[str, Any], tuple[Any, ...]]:
    """Run the generated host function until its first kernel launch.

    Returns:
        (the triton JITFunction, launch keyword options such as num_warps, kernel args).

    Raises:
        RuntimeError: the host function returned without launching a kernel.
    """
    seen: dict[str, Any] = {}

    def launcher(kernel: Any, grid: Any, *kargs: Any, **kw: Any) -> Any:
        seen.update(kernel=kernel, kw=kw, args=kargs)
        raise _Captured

    with contextlib.suppress(_Captured):
        entry(*args, _launcher=launcher)
    if not seen:
        raise RuntimeError("the generated host function launched no kernel")
    return seen["kernel"], dict(seen["kw"]), tuple(seen["args"])


_REGS = re.compile(r"Used (\d+) registers")
_SPILLS = re.compile(r"(\d+) bytes spill stores")


def _ptxas_report(ptx: str, target: Target) -> str:
    """ptxas -v output for ``ptx`` (registers, spills), or '' if ptxas fails."""
    import subprocess
    import tempfile

    from triton import knobs

    arch = f"sm_{target.capability}{'a' if target.capability >= 90 else ''}"
    with tempfile.TemporaryDirectory(prefix="kcheck-ptxas-") as tmp:
        src = f"{tmp}/k.ptx"
        with open(src, "w") as f:
            f.write(ptx)
        proc = subprocess.run(
            [knobs.nvidia.ptxas.path, "-v", f"--gpu-name={arch}", src, "-o", f"{tmp}/k.cubin"],
            capture_output=True,
            text=True,
            check=False,
        )
    return proc.stderr + proc.stdout


def compile_for_target(code: str, entry_name: str, args: tuple[Any, ...], target: Target) -> CompileResult:
    """Compile generated ``code`` for ``target``; ``args`` as from :func:`describe_args`.

    Raises:
        OutOfResources: shared memory over ``target.max_shared_memory``.
        Whatever Triton raises (CompilationError for numel overflow, PTXASError...).
    """
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.compiler import compile as triton_compile
    from triton.runtime.jit import create_function_from_signature

    real_args = tuple(a.materialize() if isinstance(a, TensorArg) else a for a in args)
    entry = codegen.load(code, entry_name)
    fn, kw, kargs = capture_launch(entry, real_args)
    gpu = GPUTarget("cuda", target.capability, target.warp_size)
    backend = make_backend(gpu)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*kargs, **kw)
    options, signature, constexprs, attrs = fn._pack_args(backend, kw, bound, specialization, options)
    log = io.StringIO()
    started = time.perf_counter()
    # ptxas runs with -v; with the dump knob Triton prints its log, which holds registers/spills.
    with knobs.nvidia.scope(), contextlib.redirect_stdout(log):
        knobs.nvidia.dump_ptxas_log = True
        kernel = triton_compile(
            ASTSource(fn, signature, constexprs, attrs), target=gpu, options=options.__dict__
        )
    seconds = time.perf_counter() - started
    md = kernel.metadata
    text = log.getvalue()
    if not _REGS.search(text):
        # A Triton cache hit skips ptxas and its log: ask ptxas about the cached PTX.
        text = _ptxas_report(kernel.asm["ptx"], target)
    regs, spills = _REGS.search(text), _SPILLS.search(text)
    result = CompileResult(
        seconds=seconds,
        shared_memory=int(md.shared),
        num_warps=int(md.num_warps),
        num_stages=int(md.num_stages),
        registers=int(regs.group(1)) if regs else None,
        spills=int(spills.group(1)) if spills else None,
    )
    if result.shared_memory > target.max_shared_memory:
        raise OutOfResources(
            f"out of resource: shared memory, Required: {result.shared_memory}, "
            f"Hardware limit: {target.max_shared_memory} ({target.name}, checked at compile time)"
        )
    return result
