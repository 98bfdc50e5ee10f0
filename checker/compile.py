"""Cross-compiling generated Triton for a GPU target, on any machine (no GPU needed).

The generated host function is called with a capturing launcher instead of Helion's, which
records the Triton kernel, its arguments and launch options without running anything. The
arguments are then specialized the way Triton's JIT would on a GPU of that target (the same
``create_function_from_signature`` binder and ``_pack_args``, with the target's backend), and
``triton.compile(ASTSource(...), target=GPUTarget(...))`` builds ttir -> ttgir -> llir -> ptx ->
cubin; ptxas ships in the triton wheel. Runs in the compile worker (checker.pool), where
TRITON_INTERPRET is off.

Two levels (:class:`~checker.run_options.Level`): ``check`` stops right after shared memory is
allocated on the TTGIR, before LLVM lowering, O3 and ptxas (about a second per case: it finds
numel overflows, shared memory over the target's limit and MLIR pass failures); ``full`` goes on
to a cubin and reads registers and spills from ptxas, and also checks the register file. Sampled configs that
compile for minutes spend those minutes in LLVM (``llir``) or ptxas, which ``check`` never runs.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from checker import codegen
from checker.run_options import Level
from checker.targets import Target

#: Integer tensors of at most this many elements travel with their values (bytes: 8 x this).
#: The kernel never needs them to compile, but host code may read them: Helion's jagged examples
#: size their output from ``int(x_offsets[-1].item())``, and uninitialized memory there made the
#: host code allocate petabytes, a failure the checker then blamed on the kernel.
HOST_READABLE_MAX_NUMEL = 4096


@dataclass(frozen=True)
class TensorArg:
    """A tensor argument by layout (shape, stride, dtype), plus for a small integer tensor its
    values (row-major, :data:`HOST_READABLE_MAX_NUMEL` at most), which host code may read."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype
    values: tuple[int, ...] | None = None

    def materialize(self) -> torch.Tensor:
        """A CPU tensor of this layout: the recorded values, else uninitialized memory."""
        out = torch.empty_strided(self.shape, self.stride, dtype=self.dtype)
        if self.values is not None:
            out.copy_(torch.tensor(self.values, dtype=self.dtype).reshape(self.shape))
        return out


def _host_readable(tensor: torch.Tensor) -> tuple[int, ...] | None:
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.is_meta:
        return None
    if tensor.numel() > HOST_READABLE_MAX_NUMEL:
        return None
    try:
        return tuple(int(v) for v in tensor.detach().reshape(-1).tolist())
    except (RuntimeError, NotImplementedError):  # fake or otherwise data-less tensors
        return None


def describe_args(args: tuple[Any, ...], values: bool = False) -> tuple[Any, ...]:
    """Kernel arguments with tensors replaced by TensorArg, cheap to send to a worker.

    ``values``: the tensors hold real data (not layout-only stand-ins), so small integer tensors
    keep their values for host code to read (:data:`HOST_READABLE_MAX_NUMEL`)."""
    return tuple(
        TensorArg(tuple(a.shape), tuple(a.stride()), a.dtype, _host_readable(a) if values else None)
        if isinstance(a, torch.Tensor)
        else a
        for a in args
    )


@dataclass(frozen=True)
class CompileResult:
    """What compiling one case for a target produced.

    Attributes:
        seconds: wall time of ``triton.compile``.
        shared_memory: shared memory per block the kernel needs, bytes.
        num_warps, num_stages: the compiled options.
        registers: registers per thread reported by ptxas; None at level ``check`` (no ptxas).
        spills: bytes of spill stores reported by ptxas; None at level ``check``.
        level: the :class:`Level` compiled to.
        stage_s: seconds per Triton stage that ran (``frontend``, ``ttir``, ``ttgir``, ``llir``,
            ``ptx``, ``cubin``).
        triton_hash: Triton's cache key of the compile (``CompiledKernel.hash``, 64 hex
            digits) at level ``full``: where Triton's cache keeps the binary
            (:func:`triton_cache_holds`); None at level ``check``.
        kernel_name: the compiled kernel's name (Triton names its cache files after it).
    """

    seconds: float
    shared_memory: int
    num_warps: int
    num_stages: int
    registers: int | None
    spills: int | None
    level: str = "full"
    stage_s: dict[str, float] = field(default_factory=dict)
    triton_hash: str | None = None
    kernel_name: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "compile_s": round(self.seconds, 4),
            "compile_level": self.level,
            "shared_memory": self.shared_memory,
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "registers": self.registers,
            "spills": self.spills,
        }


class _Captured(Exception):
    pass


class _StopAfterCheck(Exception):
    """Raised from inside triton.compile once a ``check``-level compile has what it needs."""

    def __init__(self, shared: int) -> None:
        super().__init__(shared)
        self.shared = shared


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


def _out_of_resources(required: int, limit: int, name: str) -> Exception:
    """Triton's own OutOfResources (the one a GPU launch raises), so one classifier rule and
    one signature serve compile-time and launch-time findings."""
    from triton.runtime.errors import OutOfResources

    return OutOfResources(required, limit, name)


def _allocated_shared_memory(backend: Any, ttgir: Any, options: Any, capability: int) -> int | None:
    """Shared memory (bytes) the ``ttgir`` module will allocate, computed on a copy of it.

    Runs the head of Triton's ``make_llir`` pipeline (third_party/nvidia/backend/compiler.py in
    triton 3.6) up to and including ``allocate_shared_memory_nv``, which sets ``ttg.shared``, so a
    kernel over the target's limit is rejected in ~10 ms instead of after LLVM O3 and ptxas.
    Returns None when this triton lacks one of those internals; the full compile then decides.
    """
    try:
        from triton._C.libtriton import ir, nvidia, passes
        from triton.backends.nvidia.compiler import get_ptx_version_from_options

        with tempfile.NamedTemporaryFile("w", suffix=".ttgir", prefix="kcheck-") as f:
            f.write(str(ttgir))
            f.flush()
            context = ir.context()
            ir.load_dialects(context)
            backend.load_dialects(context)
            module = ir.parse_mlir_module(f.name, context)
        module.context = context
        pm = ir.pass_manager(context)
        passes.ttgpuir.add_combine_tensor_select_and_if(pm)
        passes.ttgpuir.add_allocate_warp_groups(pm)
        passes.convert.add_scf_to_cf(pm)
        passes.gluon.add_inliner(pm)
        ptx_version = get_ptx_version_from_options(options, backend.target.arch)
        nvidia.passes.ttgpuir.add_allocate_shared_memory_nv(pm, capability, ptx_version)
        pm.run(module, "kcheck_shared_memory")
        shared = module.get_int_attr("ttg.shared")
    except (ImportError, AttributeError, TypeError):
        return None
    return int(shared or 0)


def _stage_hook(target: Target, level: Level, stage_s: dict[str, float], started: float) -> Any:
    """A ``knobs.runtime.add_stages_inspection_hook`` that times every stage and checks shared
    memory before LLVM lowering (and stops there at level ``check``)."""

    def hook(backend: Any, stages: dict[str, Any], options: Any, language: Any, capability: int) -> None:
        def timed(name: str, fn: Any) -> Any:
            def run(src: Any, metadata: dict[str, Any]) -> Any:
                if "frontend" not in stage_s:
                    stage_s["frontend"] = round(time.perf_counter() - started, 4)
                t0 = time.perf_counter()
                try:
                    return fn(src, metadata)
                finally:
                    stage_s[name] = round(time.perf_counter() - t0, 4)

            return run

        def llir(src: Any, metadata: dict[str, Any], lower: Any = stages["llir"]) -> Any:
            shared = _allocated_shared_memory(backend, src, options, capability)
            if shared is not None and shared > target.max_shared_memory:
                raise _out_of_resources(shared, target.max_shared_memory, "shared memory")
            if level is Level.CHECK:
                raise _StopAfterCheck(shared or 0)
            return lower(src, metadata)

        stages["llir"] = llir
        for name in list(stages):
            stages[name] = timed(name, stages[name])

    return hook


def triton_cache_holds(triton_hash: str, kernel_name: str) -> bool:
    """Whether Triton's cache (``TRITON_CACHE_DIR``, default ``~/.triton/cache``; any
    ``TRITON_CACHE_MANAGER``) holds the metadata and cubin of the compile ``triton_hash`` of
    ``kernel_name`` (:class:`CompileResult`): then a launch of the same kernel loads that binary
    instead of compiling (the test Triton's own ``compile`` makes before it compiles).
    """
    from triton.runtime.cache import get_cache_manager

    # Triton truncates the name the same way before naming its files.
    stem = kernel_name[:150]
    group = get_cache_manager(triton_hash).get_group(f"{stem}.json") or {}
    return f"{stem}.json" in group and f"{stem}.cubin" in group


def max_warps_for_registers(registers: int, target: Target) -> int:
    """Warps per block the register file allows at ``registers`` per thread.

    Registers are allocated per warp in units of ``target.register_alloc_unit`` (256 on sm_80 to
    sm_100: CUDA Occupancy Calculator, "Register allocation unit size"), from a file of
    ``target.registers_per_block`` 32-bit registers (65536). A launch with more warps fails with
    Triton's "out of resource: threads", which is what this predicts without a GPU.
    """
    unit = target.register_alloc_unit
    per_warp = math.ceil(registers * target.warp_size / unit) * unit
    return target.registers_per_block // per_warp if per_warp else target.max_threads_per_block


def compile_for_target(
    code: str,
    entry_name: str,
    args: tuple[Any, ...],
    target: Target,
    level: Level = Level.FULL,
    early_checks: bool = True,
) -> CompileResult:
    """Compile generated ``code`` for ``target`` to ``level``; ``args`` as from :func:`describe_args`.

    ``early_checks=False`` runs Triton's pipeline untouched (no stage timing, no shared-memory
    check before LLVM), as a hand-written compile loop would; benchmarks compare against it.

    Raises:
        triton.runtime.errors.OutOfResources: shared memory over ``target.max_shared_memory``
            (found before LLVM lowering), or, at level ``full``, more warps than the register
            file allows at the registers ptxas allocated ("threads", as a GPU launch reports it).
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
    stage_s: dict[str, float] = {}
    started = time.perf_counter()
    # ptxas runs with -v; with the dump knob Triton prints its log, which holds registers/spills.
    with (
        knobs.nvidia.scope(),
        knobs.runtime.scope(),
        knobs.compilation.scope(),
        contextlib.redirect_stdout(log),
    ):
        knobs.nvidia.dump_ptxas_log = True
        if early_checks:
            knobs.runtime.add_stages_inspection_hook = _stage_hook(target, level, stage_s, started)
        if early_checks and level is Level.CHECK:
            # The stage hook is not part of Triton's cache key: a kernel its cache holds fully
            # built would load without running a stage and answer as level full (registers
            # included), a verdict that depended on ~/.triton/cache. A check-level compile stops
            # before Triton stores anything, so it neither reads nor writes that cache.
            knobs.compilation.always_compile = True
        try:
            kernel = triton_compile(
                ASTSource(fn, signature, constexprs, attrs), target=gpu, options=options.__dict__
            )
        except _StopAfterCheck as stop:
            return CompileResult(
                seconds=time.perf_counter() - started,
                shared_memory=stop.shared,
                num_warps=int(options.num_warps),
                num_stages=int(options.num_stages),
                registers=None,
                spills=None,
                level=Level.CHECK.value,
                stage_s=stage_s,
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
        level=Level.FULL.value,
        stage_s=stage_s,
        triton_hash=str(kernel.hash),
        kernel_name=str(kernel.name),
    )
    if result.shared_memory > target.max_shared_memory:
        raise _out_of_resources(result.shared_memory, target.max_shared_memory, "shared memory")
    if result.registers is not None:
        max_warps = max_warps_for_registers(result.registers, target)
        if result.num_warps > max_warps:
            raise _out_of_resources(
                result.num_warps * target.warp_size, max_warps * target.warp_size, "threads"
            )
    return result
