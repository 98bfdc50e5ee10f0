"""A standalone reproducer of one kcheck case, written by ``kcheck repro`` (docs/repro.md).

Needs torch, triton and helion (the generated code imports ``helion.runtime``), never the
checker. Run it with ``python FILE``: it prints what the record says, the toolchain it was made
with against the one here, then one verdict line, and exits

* 1 ``REPRODUCED <category>: ...``: the recorded failure happened again: the same category
  and the same signature (made as the checker makes it);
* 0 ``NOT REPRODUCED: passed ...``: the case passed here;
* 2 ``CANNOT RUN: ...``: this machine cannot run the case (a native case without a GPU, inputs
  that were not embedded...), or this Python cannot: it lacks torch, triton or helion, or has
  other versions of them than the record was made with (``--any-toolchain`` runs it anyway);
* 3 ``NOT REPRODUCED: got <category> (signature ...), recorded: <category> (signature ...)``:
  the case failed here, but not as the record says (another category or another signature).

Compile-stage failures (numel overflow, shared memory over the target's limit, compiler
crashes) are reproduced by compiling the generated Triton for the record's target, which needs
no GPU. Run-time failures run the generated host function: on a GPU for ``native`` records, under
the Triton interpreter (TRITON_INTERPRET=1, CPU) for ``interpreter`` records, with the checker's
own fixes of the interpreter (``INTERPRETER_SOURCE``: checker/interpreter.py, bf16 and libdevice).

Options: ``--show-code`` prints the generated Triton and exits; ``--level check|full`` changes
how far a compile goes; ``--random-inputs`` runs with random values of the recorded layout when
the inputs were not embedded; ``--interpret`` runs a ``native`` record under the interpreter;
``--any-toolchain`` replays the case with a toolchain other than the record's.

Everything below the data block is the same in every reproducer; the data block holds the
case (the record's fields, the generated code, the inputs and the expected outputs) and the
checker's classification this file applies (``CLASSIFICATION``: its rules for exceptions, the
categories it names, how it makes signatures), written from the checker's own tables by
``kcheck repro``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from importlib import metadata
from typing import Any

# ---- data: written by kcheck repro ----
CLASSIFICATION: dict[str, Any] = {}
DATA: dict[str, Any] = {}
GENERATED_CODE = ""
INPUTS_B64 = ""
EXPECTED_B64 = ""
MAKE_INPUTS_SOURCE = ""
REFERENCE_SOURCE = ""
INTERPRETER_SOURCE = ""
# ---- end of data ----

EXIT_NOT_REPRODUCED = 0
EXIT_REPRODUCED = 1
EXIT_CANNOT_RUN = 2
EXIT_FAILED_DIFFERENTLY = 3

#: The last stdout line of a child process run by :func:`_in_child`: this prefix, then JSON.
_CHILD_MARK = "KCHECK-REPRO-OUTCOME "
#: Seconds a child may spend starting Python and importing torch, triton and helion.
CHILD_STARTUP_S = 120.0


class CannotRun(Exception):
    """This machine cannot run the case; the message says why and what would."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened here: a kcheck category name (``passed`` for success), a message, and the
    checker's signature of it (:func:`signature`; None where the file cannot make the checker's:
    a child that died or timed out, which the checker's supervisor describes in its own words)."""

    category: str
    message: str = ""
    signature: str | None = None


# ---------------------------------------------------------------------------------------------
# Header: what the record says, and the toolchain.


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in ("helion", "triton", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "-"
    out["python"] = platform.python_version()
    return out


def _print_header() -> None:
    # Triton's messages open with a source position ("at 11:24:"); a few lines say what.
    lines = [line for line in DATA["message"].splitlines() if line.strip()][:4]
    target = DATA["target"]
    print(f"case:      {DATA['case']}")
    print(f"recorded:  {DATA['category']} (mode {DATA['mode']}, target {target['name']})")
    for i, line in enumerate(lines):
        print(f"{'message:' if i == 0 else '':<11}{line[:300]}")
    print(f"config:    {DATA['config_repr']} (from {DATA['config_source']})")
    print(f"made by:   {DATA['command']}")
    print(f"inputs:    {DATA['inputs']['form']} ({DATA['inputs']['reason']})")
    print(f"reference: {DATA['reference']['form']} ({DATA['reference']['reason']})")
    here = _versions()
    recorded = DATA["toolchain"]
    print("toolchain: " + ", ".join(f"{k} {v}" for k, v in sorted(recorded.items())) + " (recorded)")
    for name in sorted(set(recorded) | set(here)):
        if recorded.get(name) != here.get(name):
            print(
                f"WARNING: {name} {here.get(name, '-')} here, {recorded.get(name, '-')} in the record: "
                "the outcome may differ for that reason alone",
                file=sys.stderr,
            )


#: What the file imports besides the standard library, as distribution and import names.
TOOLCHAIN = ("torch", "triton", "helion")


def _release(version: str) -> str:
    """A version without its local label: ``2.13.0+cpu`` and ``2.13.0+cu126`` are one release
    of the same source, built for other devices."""
    return version.split("+", 1)[0]


def toolchain_problem(any_toolchain: bool) -> str | None:
    """Why this Python cannot replay the record, or None.

    A missing torch, triton or helion (found without importing anything: triton must not be
    imported before TRITON_INTERPRET is set) always stops the file: it would fail with an
    ImportError, which says nothing about the kernel. A release of one of them other than the
    record's stops it too, unless ``any_toolchain``: a different Triton may fix the crash or cause
    another, so neither verdict would be about the record. The Python version is only warned
    about (:func:`_print_header`)."""
    rerun = f"{shlex.quote(DATA['interpreter'])} {shlex.quote(sys.argv[0] or __file__)}"
    missing = [name for name in TOOLCHAIN if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"this Python ({sys.executable}) has no {', '.join(missing)}; the file needs torch, triton "
            f"and helion. Run it with the Python that wrote it: {rerun}"
        )
    if any_toolchain:
        return None
    here, recorded = _versions(), DATA["toolchain"]
    differ = [
        f"{name} {here[name] if here[name] != '-' else 'of unknown version'} here, {recorded[name]} "
        "in the record"
        for name in TOOLCHAIN
        if recorded.get(name, "-") != "-" and _release(here[name]) != _release(recorded[name])
    ]
    if not differ:
        return None
    return (
        f"{'; '.join(differ)}: another toolchain may fix the failure or cause another, so its verdict "
        f"would not be the record's. Run it where the record's toolchain is installed (the Python "
        f"that wrote this file: {rerun}), or pass --any-toolchain to replay it with this one"
    )


def _import_toolchain() -> None:
    """Import torch, triton and helion now (after TRITON_INTERPRET is decided), so that a broken
    install is ``CANNOT RUN`` and not the kernel's ``runtime-error``."""
    for name in TOOLCHAIN:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CannotRun(
                f"this Python ({sys.executable}) cannot import {name}: {type(exc).__name__}: {exc}"
            ) from exc


# ---------------------------------------------------------------------------------------------
# Classification of exceptions: the part of the checker's rules that a reproducer can meet
# (CLASSIFICATION["rules"]: category, exception type names, message pattern; the first that
# matches decides, as in checker/diagnostics.py).


def _chain(exc: BaseException) -> list[BaseException]:
    out = [exc]
    cur = exc.__cause__ or exc.__context__
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def classify(exc: BaseException) -> Outcome:
    """The category of an exception raised while compiling or running the case, with the
    checker's signature of it."""
    chain = _chain(exc)
    message = "\n".join(f"{type(e).__name__}: {e}" for e in chain)
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    for category, types, pattern in CLASSIFICATION["rules"]:
        if types and not names.intersection(types):
            continue
        found = re.search(pattern, message) if pattern is not None else None
        if pattern is not None and found is None:
            continue
        sig = signature(category, _headline(exc, message), _tool_frame(exc))
        # The verdict line shows the first line: make it the one that decided the category.
        if found is not None:
            return Outcome(category, f"{found.group(0)}\n{message}", sig)
        typed = next(e for e in chain if names.intersection(types) & {c.__name__ for c in type(e).__mro__})
        # A CompilationError says where; the exception it chains says what.
        root = chain[-1]
        cause = f" ({type(root).__name__}: {_first_line(root)})" if root is not typed else ""
        return Outcome(category, f"{type(typed).__name__}: {_first_line(typed)}{cause}\n{message}", sig)
    category = CLASSIFICATION["fallback"]
    return Outcome(category, message, signature(category, _headline(exc, message), _tool_frame(exc)))


# ---------------------------------------------------------------------------------------------
# Signatures, made as the checker makes them (checker/diagnostics.py; its tables are
# CLASSIFICATION["signature"]): two failures of one category are the same failure only when
# their signatures agree.


def _normalized(text: str, table: list[list[str]]) -> str:
    for pattern, replacement in table:
        text = re.sub(pattern, replacement, text)
    return text


def signature(category: str, text: str, frame: str = "") -> str:
    """The checker's 12-hex-digit signature of a failure of ``category`` described by ``text``
    (``checker.diagnostics.signature``)."""
    recipe = CLASSIFICATION["signature"]
    if category in recipe["mismatch"]:
        text = _normalized(text, recipe["value_normalizers"])
    text = " ".join(_normalized(text, recipe["normalizers"]).split())
    key = f"{category}\n{text[: recipe['limit']]}\n{frame}"
    return hashlib.sha256(key.encode("utf-8", "backslashreplace")).hexdigest()[:12]


def _headline(exc: BaseException, message: str) -> str:
    """The line an exception's signature is made of (``checker.diagnostics._headline``)."""
    recipe = CLASSIFICATION["signature"]
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    fatal = re.search(recipe["ptxas_fatal"], message)
    if fatal:
        return f"{first_line} {fatal.group(0)}"
    if re.match(recipe["position_only"], first_line):
        inner = _chain(exc)[-1]
        text = str(inner).strip()
        return f"{type(inner).__name__}: {text.splitlines()[0] if text else ''}"
    return first_line


def _tool_frame(exc: BaseException) -> str:
    """``package.module:function`` of the innermost traceback frame in triton, helion or torch
    (``checker.diagnostics._innermost_tool_frame``), or ''."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    for frame in reversed(frames):
        for pkg in CLASSIFICATION["signature"]["tool_packages"]:
            marker = f"/{pkg}/"
            if marker in frame.filename:
                module = frame.filename.split(marker, 1)[1].removesuffix(".py").replace("/", ".")
                return f"{pkg}.{module}:{frame.name}"
    return ""


def with_compiler_log(outcome: Outcome, log: str) -> Outcome:
    """A compile failure's signature with the failing MLIR pass the compiler printed on stderr,
    as the checker adds it (``checker.diagnostics.with_compiler_log``)."""
    found = re.search(CLASSIFICATION["signature"]["mlir_pass"], log)
    if found is None or outcome.signature is None:
        return outcome
    sig = signature(outcome.category, f"{outcome.signature} {found.group('name')}")
    return dataclasses.replace(outcome, signature=sig)


@contextlib.contextmanager
def _stderr_captured(into: list[str]) -> Any:
    """Collect what this process writes to file descriptor 2 (MLIR prints a failing pass there,
    not into the exception) into ``into``, and still show it, as the checker's compile worker's
    stderr is both read and kept."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            text = f.read().decode("utf-8", "replace")
            into.append(text)
            sys.stderr.write(text)


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message that says more than a source position."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not re.fullmatch(r"at \d+:\d+:", line)]
    return (useful or lines or [""])[0]


@contextlib.contextmanager
def _watchdog(stage: str) -> Any:
    """In a child process (:func:`_in_child`), end the process with a ``<stage>-timeout``
    outcome when the block outlives the record's ``timeout_s``: the limit covers the compile or
    the launch only, as in the checker, not starting Python and importing torch."""
    seconds = DATA.get("timeout_s")
    if not seconds or not DATA["isolate"]:
        yield
        return

    def fire() -> None:
        message = f"the {stage} did not finish within {seconds:g} s"
        print(_CHILD_MARK + json.dumps({"category": f"{stage}-timeout", "message": message}), flush=True)
        os._exit(0)

    timer = threading.Timer(float(seconds), fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


# ---------------------------------------------------------------------------------------------
# The generated code and its arguments.


def _patch_num_sm(count: int) -> None:
    """Answer ``helion.runtime.get_num_sm`` for CPU devices with ``count``: Helion cannot size a
    persistent grid for a CPU, and the checker answered with the target's SM count (compiles) or
    a small count (interpreter runs, so each program loops over more tiles)."""
    import helion.runtime as hr

    original = hr.get_num_sm

    def get_num_sm(device: Any, *, reserved_sms: int = 0) -> int:
        if getattr(device, "type", device) == "cpu":
            return max(1, count - reserved_sms)
        result: int = original(device, reserved_sms=reserved_sms)
        return result

    hr.get_num_sm = get_num_sm


def _load_source(prefix: str, source: str) -> Any:
    """Import ``source`` as a module from a real file (Triton reads kernel source from it),
    private to this run and removed when it ends."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = tempfile.mkdtemp(prefix="kcheck-repro-")
    # Private to this run, removed when it ends (each run once left one directory behind).
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_generated() -> Any:
    """Import the generated code and return its host function."""
    try:
        module = _load_source("kcheck_repro", GENERATED_CODE)
    except ImportError as exc:
        # e.g. the kernel's own module, for helpers its host code calls (docs/repro.md, Limits)
        raise CannotRun(
            f"the generated code imports what this Python cannot: {type(exc).__name__}: {exc}"
        ) from exc
    return getattr(module, DATA["entry"])


def _dtype(name: str) -> Any:
    import torch

    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise CannotRun(f"unknown torch dtype {name!r} in the data block")
    return value


def _layout_args(device: str, random_values: bool = False) -> tuple[Any, ...]:
    """The kernel's arguments by layout: uninitialized tensors (or random ones) of the recorded
    shapes, strides and dtypes, and the recorded non-tensor values."""
    import torch

    gen = torch.Generator().manual_seed(0)
    out: list[Any] = []
    for arg in DATA["args"]:
        if arg["kind"] != "tensor":
            out.append(arg["value"])
            continue
        dtype = _dtype(arg["dtype"])
        t = torch.empty_strided(arg["shape"], arg["stride"], dtype=dtype)
        if random_values:
            if dtype.is_floating_point:
                t.copy_(torch.randn(t.shape, generator=gen))
            elif dtype == torch.bool:
                t.copy_(torch.randint(0, 2, t.shape, generator=gen).bool())
            else:
                t.copy_(torch.randint(0, 8, t.shape, generator=gen))
        out.append(t.to(device))
    return tuple(out)


def _load_b64(text: str) -> Any:
    import torch

    return torch.load(io.BytesIO(base64.b64decode(text)), weights_only=True)


def _inputs(device: str, random_inputs: bool) -> tuple[Any, ...]:
    """The case's inputs on ``device``: embedded, regenerated from the spec's seeded
    ``make_inputs``, or (only when asked) random values of the recorded layout."""
    import torch

    form = DATA["inputs"]["form"]
    if form == "embedded":
        made = _load_b64(INPUTS_B64)
    elif form == "generator":
        scope: dict[str, Any] = {}
        exec(compile(MAKE_INPUTS_SOURCE, "<make_inputs>", "exec"), scope)
        gen = torch.Generator().manual_seed(DATA["inputs"]["seed"])
        made = scope[DATA["inputs"]["function"]](tuple(DATA["shape"]), _dtype(DATA["torch_dtype"]), gen)
    elif random_inputs:
        print("WARNING: random inputs of the recorded layout, not the checker's", file=sys.stderr)
        made = _layout_args("cpu", random_values=True)
    else:
        raise CannotRun(
            "the inputs were not embedded (" + DATA["inputs"]["reason"] + "); rerun with "
            "--random-inputs to use random values of the recorded layout"
        )
    return tuple(v.to(device) if isinstance(v, torch.Tensor) else v for v in made)


# ---------------------------------------------------------------------------------------------
# Compile stage: the generated Triton compiled for the record's target, no GPU needed.


class _Captured(Exception):
    pass


class _StopAfterCheck(Exception):
    pass


def _capture_launch(entry: Any, args: tuple[Any, ...]) -> tuple[Any, dict[str, Any], tuple[Any, ...]]:
    """The first kernel launch of the host function: (JITFunction, launch options, kernel args);
    nothing runs."""
    seen: dict[str, Any] = {}

    def launcher(kernel: Any, grid: Any, *kargs: Any, **kw: Any) -> Any:
        seen.update(kernel=kernel, kw=kw, args=kargs)
        raise _Captured

    with contextlib.suppress(_Captured):
        entry(*args, _launcher=launcher)
    if not seen:
        raise RuntimeError("the generated host function launched no kernel")
    return seen["kernel"], dict(seen["kw"]), tuple(seen["args"])


def _shared_memory(backend: Any, ttgir: Any, options: Any, capability: int) -> int | None:
    """Shared memory (bytes) the TTGIR will allocate, from the head of Triton's LLVM lowering
    pipeline run on a copy (triton 3.6 internals; None when they are missing)."""
    try:
        from triton._C.libtriton import ir, nvidia, passes
        from triton.backends.nvidia.compiler import get_ptx_version_from_options

        with tempfile.NamedTemporaryFile("w", suffix=".ttgir") as f:
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
        version = get_ptx_version_from_options(options, backend.target.arch)
        nvidia.passes.ttgpuir.add_allocate_shared_memory_nv(pm, capability, version)
        pm.run(module, "kcheck_repro_shared_memory")
        shared = module.get_int_attr("ttg.shared")
    except (ImportError, AttributeError, TypeError):
        return None
    return int(shared or 0)


def compile_for_target(level: str, stderr_log: list[str]) -> Outcome:
    """Compile the generated kernel for ``DATA['target']`` on this machine (any machine); what
    the compiler writes to stderr meanwhile is appended to ``stderr_log``.

    ``check`` stops once shared memory is allocated on the TTGIR (before LLVM and ptxas);
    ``full`` builds a cubin and checks shared memory and the register file. The arguments are
    specialized as Triton's JIT would for that target, then ``triton.compile`` runs with
    ``GPUTarget('cuda', capability, warp_size)``.
    """
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.compiler import compile as triton_compile
    from triton.runtime.errors import OutOfResources
    from triton.runtime.jit import create_function_from_signature

    target = DATA["target"]
    limit = int(target["max_shared_memory"])
    _patch_num_sm(int(target["sm_count"]))
    entry = _load_generated()
    fn, kw, kargs = _capture_launch(entry, _layout_args("cpu"))
    gpu = GPUTarget("cuda", int(target["capability"]), int(target["warp_size"]))
    backend = make_backend(gpu)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*kargs, **kw)
    options, signature, constexprs, attrs = fn._pack_args(backend, kw, bound, specialization, options)
    checked: dict[str, int] = {}

    def hook(backend: Any, stages: dict[str, Any], options: Any, language: Any, capability: int) -> None:
        lower = stages["llir"]

        def llir(src: Any, metadata: dict[str, Any]) -> Any:
            shared = _shared_memory(backend, src, options, capability)
            if shared is not None and shared > limit:
                raise OutOfResources(shared, limit, "shared memory")
            checked["shared"] = shared or 0
            if level == "check":
                raise _StopAfterCheck
            return lower(src, metadata)

        stages["llir"] = llir

    log = io.StringIO()
    started = time.perf_counter()
    with (
        knobs.nvidia.scope(),
        knobs.runtime.scope(),
        knobs.compilation.scope(),
        contextlib.redirect_stdout(log),
    ):
        knobs.nvidia.dump_ptxas_log = True
        knobs.runtime.add_stages_inspection_hook = hook
        if level == "check":
            # Triton's cache key leaves the hook out: a kernel it holds fully built would skip
            # the stages and be judged at level full.
            knobs.compilation.always_compile = True
        try:
            with _watchdog("compile"), _stderr_captured(stderr_log):
                kernel = triton_compile(
                    ASTSource(fn, signature, constexprs, attrs), target=gpu, options=options.__dict__
                )
        except _StopAfterCheck:
            return Outcome(
                "passed",
                f"compiled for {target['name']} to level check in {time.perf_counter() - started:.1f} s "
                f"({checked.get('shared', 0)} bytes of shared memory)",
            )
    shared = int(kernel.metadata.shared)
    if shared > limit:
        raise OutOfResources(shared, limit, "shared memory")
    regs = re.search(r"Used (\d+) registers", log.getvalue())
    if regs:
        unit = int(target["register_alloc_unit"])
        per_warp = math.ceil(int(regs.group(1)) * int(target["warp_size"]) / unit) * unit
        max_warps = int(target["registers_per_block"]) // per_warp
        warps = int(kernel.metadata.num_warps)
        if warps > max_warps:
            warp_size = int(target["warp_size"])
            raise OutOfResources(warps * warp_size, max_warps * warp_size, "threads")
    return Outcome(
        "passed",
        f"compiled for {target['name']} to a cubin in {time.perf_counter() - started:.1f} s "
        f"({shared} bytes of shared memory, {regs.group(1) if regs else '?'} registers)",
    )


# ---------------------------------------------------------------------------------------------
# Run stage: launch, then compare with the reference.

_BOOL_POISON = 0x02


def _poison_mode() -> Any:
    """A TorchFunctionMode filling every uninitialized allocation (``torch.empty`` & co., what
    the host code allocates outputs with) with NaN / the dtype's max / the byte 2, so elements
    the kernel never writes fail the comparison, as in the checker."""
    import torch
    from torch.overrides import TorchFunctionMode

    allocators = {
        torch.empty,
        torch.empty_like,
        torch.empty_strided,
        torch.Tensor.new_empty,
        torch.Tensor.new_empty_strided,
    }

    def poison(t: Any) -> None:
        with torch.no_grad():
            if t.is_floating_point() or t.is_complex():
                if t.element_size() == 1:
                    t.view(torch.uint8).fill_(0x7F)
                else:
                    t.fill_(math.nan)
            elif t.dtype == torch.bool:
                t.view(torch.uint8).fill_(_BOOL_POISON)
            else:
                t.fill_(int(torch.iinfo(t.dtype).max))

    class Poison(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            if func in allocators and isinstance(out, torch.Tensor):
                poison(out)
            return out

    return Poison()


def _interpreter_fixes(module: Any) -> None:
    """Run the case under the interpreter as the checker ran it: load the checker's own
    interpreter fixes (``INTERPRETER_SOURCE``, checker/interpreter.py written into this file) and
    install them as the checker does (``install_shims``): bf16 arithmetic, casts, reductions and
    scans computed in fp32 with round-to-nearest-even stores, bf16 dots on widened operands,
    16-bit reductions in a tree, and ``libdevice`` routed to its ``tl.math`` equivalents. A plain
    Triton case's host module (``checker.triton_launch``) adds its own scope for each launch
    (libdevice names the kernel imported, float arguments as fp32), as in the checker."""
    fixes = _load_source("kcheck_repro_interpreter", INTERPRETER_SOURCE)
    fixes.install_shims(module)


def _upcast(value: Any, dtype: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(torch.float32).to(dtype) if value.element_size() == 1 else value.to(dtype)
    return value


def _as_list(out: Any, in_place: bool) -> list[Any]:
    if in_place and out is None:
        return []
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _expected(inputs: tuple[Any, ...]) -> tuple[list[Any], dict[int, Any]] | None:
    """(returned outputs, mutated arguments by index) of the reference, or None without one."""
    import torch

    form = DATA["reference"]["form"]
    mutated = {int(k): v for k, v in DATA["mutated"].items()}
    if form == "embedded":
        saved = _load_b64(EXPECTED_B64)
        return list(saved["returned"]), {int(k): v for k, v in saved["mutated"].items()}
    if form != "source":
        return None
    scope: dict[str, Any] = {}
    exec(compile(REFERENCE_SOURCE, "<reference>", "exec"), scope)
    ref_dtype = _dtype(DATA["reference"]["dtype"])
    args = []
    for v in inputs:
        if isinstance(v, torch.Tensor):
            v = v.cpu() if DATA["reference"]["device"] == "cpu" else v
            up = _upcast(v, ref_dtype)
            args.append(up.clone() if up is v else up)
        else:
            args.append(v)
    with torch.no_grad():
        returned = scope[DATA["reference"]["function"]](*args)
    return _as_list(returned, bool(mutated)), {i: args[i] for i in mutated}


def _exact(t: Any) -> Any:
    import torch

    t = t.detach().to("cpu")
    if t.dtype == torch.bool:
        return t.view(torch.uint8).to(torch.int64)
    if t.is_floating_point() or t.is_complex():
        return t.to(torch.float64)
    return t.to(torch.int64)


def compare(actual: Any, expected: Any, slot: dict[str, Any]) -> Outcome:
    """One value against its reference, in the checker's order: shape, (exact comparison for
    integer and bool), dtype, non-finite positions, the all-zero guard, then
    ``|a - e| <= atol + rtol * |e|`` with the slot's recorded rtol and atol."""
    import torch

    want = _dtype(slot["dtype"])
    if tuple(actual.shape) != tuple(expected.shape):
        return Outcome(
            "shape-mismatch", f"output shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
        )
    if not (want.is_floating_point or want.is_complex):
        a, e = _exact(actual), _exact(expected)
        if actual.dtype != want:
            return Outcome("dtype-mismatch", f"output dtype {actual.dtype}, expected {want}")
        wrong = a != e
        bad, numel = int(wrong.sum()), e.numel()
        if bad:
            # The checker's message (checker/numerics.py), so that its signature is the same.
            diff = (a.to(torch.float64) - e.to(torch.float64)).abs()
            flat = int(torch.argmax(torch.where(wrong, diff + 1, torch.zeros_like(diff)).reshape(-1)))
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), e.shape))
            got = int(a.reshape(-1)[flat])
            poison = _BOOL_POISON if want == torch.bool else int(torch.iinfo(want).max)
            hint = " (the poison of an element the kernel never wrote)" if got == poison else ""
            return Outcome(
                "numerical-mismatch",
                f"{bad} of {numel} elements ({100.0 * bad / numel:.3g}%) differ from the reference "
                f"(exact comparison of {want}); worst at {index}: got {float(got)!r}{hint}, "
                f"expected {float(e.reshape(-1)[flat])!r}",
            )
        return Outcome("passed", "exact match")
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    rtol, atol = float(slot["rtol"]), float(slot["atol"])
    a_nf, e_nf = ~torch.isfinite(a), ~torch.isfinite(e)
    nf_bad = (a_nf | e_nf) & ~((torch.isnan(a) & torch.isnan(e)) | (a == e))
    finite = ~(a_nf | e_nf)
    diff = torch.where(finite, (a - e).abs(), torch.zeros_like(a))
    allowed = atol + rtol * e.abs()
    bad = (finite & (diff > allowed)) | nf_bad
    numel = e.numel()
    score = torch.where(nf_bad, torch.full_like(a, math.inf), diff - allowed)
    worst = int(torch.argmax(score.reshape(-1))) if numel else 0
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), e.shape)) if numel else ()
    where = ""
    if numel:
        where = f"at {index}: got {float(a.reshape(-1)[worst])!r}, expected {float(e.reshape(-1)[worst])!r}"
    if actual.dtype != want:
        return Outcome("dtype-mismatch", f"output dtype {actual.dtype}, expected {want}")
    if int(nf_bad.sum()):
        return Outcome(
            "nonfinite-mismatch",
            f"{int(nf_bad.sum())} of {numel} elements non-finite where the reference is not "
            f"(or the reverse); first {where}",
        )
    if numel and bool((a == 0).all()) and bool((e != 0).any()):
        return Outcome(
            "numerical-mismatch", "output is all zeros but the reference is not (false-pass guard)"
        )
    mismatches = int(bad.sum())
    max_abs = float(diff.max()) if numel else 0.0
    rel = torch.where(finite & (e != 0), diff / e.abs(), torch.zeros_like(a))
    max_rel = float(rel.max()) if numel else 0.0
    if mismatches:
        return Outcome(
            "numerical-mismatch",
            f"{mismatches} of {numel} elements ({100.0 * mismatches / numel:.3g}%) outside "
            f"rtol={rtol:.3g} atol={atol:.3g}; max abs err {max_abs:.3g}, max rel err {max_rel:.3g}; "
            f"worst {where}",
        )
    return Outcome("passed", f"within rtol={rtol:.3g} atol={atol:.3g}; max abs err {max_abs:.3g}")


def _changed(before: Any, after: Any) -> tuple[int, tuple[int, ...]]:
    """How many elements of ``after`` differ from ``before`` bit for bit, and the first one's
    index."""
    if before.numel() == 0:
        return 0, ()
    import torch

    size = before.element_size()
    b = before.detach().contiguous().reshape(-1).view(torch.uint8).reshape(-1, size)
    a = after.detach().to(before.device).contiguous().reshape(-1).view(torch.uint8).reshape(-1, size)
    diff = (a != b).any(dim=1)
    count = int(diff.sum())
    if not count:
        return 0, ()
    flat = int(torch.nonzero(diff)[0])
    return count, tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), before.shape))


def run_case(native: bool, random_inputs: bool) -> Outcome:
    """Launch the generated host function on the case's inputs and compare its results; an
    outcome the file decided itself (a comparison, an input written) gets its signature from its
    message, as the checker's does."""
    outcome = _launch_and_compare(native, random_inputs)
    if outcome.signature is None and outcome.category not in ("passed", "ran"):
        outcome = dataclasses.replace(outcome, signature=signature(outcome.category, outcome.message))
    return outcome


def _launch_and_compare(native: bool, random_inputs: bool) -> Outcome:
    import torch

    device = "cuda" if native else "cpu"
    inputs = _inputs(device, random_inputs)
    mutated = {int(k): v for k, v in DATA["mutated"].items()}
    expected = None
    # A case its worker never finished (it died or timed out) never reached its comparison.
    if DATA["category"] not in CLASSIFICATION["supervisor_made"]:
        expected = _expected(inputs)
    if not native:
        _patch_num_sm(int(DATA["interpreter_sm_count"]))
    entry = _load_generated()
    module = sys.modules[entry.__module__]
    if not native:
        _interpreter_fixes(module)
    args = tuple(v.clone() if isinstance(v, torch.Tensor) else v for v in inputs)
    try:
        with _watchdog("run"), torch.no_grad(), _poison_mode(), warnings.catch_warnings():
            # numpy evaluates masked-off lanes under the interpreter (log(0)...): noise only.
            warnings.simplefilter("ignore", RuntimeWarning)
            returned = entry(*args)
            if native:
                torch.cuda.synchronize()
    except Exception as exc:
        return classify(exc)
    params = DATA["params"]
    for i, (old, new) in enumerate(zip(inputs, args, strict=True)):
        if i in mutated or not isinstance(old, torch.Tensor):
            continue
        changed, where = _changed(old, new)
        if changed:
            name = params[i] if i < len(params) else f"#{i}"
            return Outcome(
                "input-mutated",
                f"kernel wrote input {name!r} (argument {i}), which the spec does not list in mutates: "
                f"{changed} of {old.numel()} elements changed; first at {where}: was "
                f"{old[where].item()!r}, now {new.to(old.device)[where].item()!r}",
            )
    outputs = _as_list(returned, bool(mutated))
    if expected is None:
        return Outcome("ran", f"the kernel ran to completion and returned {len(outputs)} output(s)")
    ref_returned, ref_mutated = expected
    declared = DATA["declared_outputs"]
    if declared and len(outputs) != len(declared):
        names = ", ".join(repr(s["name"]) for s in declared)
        return Outcome(
            "shape-mismatch",
            f"kernel returned {len(outputs)} outputs, the spec declares {len(declared)} ({names})",
        )
    if len(outputs) != len(ref_returned):
        return Outcome(
            "shape-mismatch", f"kernel returned {len(outputs)} outputs, reference {len(ref_returned)}"
        )
    pairs: list[tuple[dict[str, Any], Any, Any]] = []
    for i, (out, ref) in enumerate(zip(outputs, ref_returned, strict=True)):
        slot = dict(declared[i]) if declared else {**DATA["default_slot"], "label": f"output {i}"}
        pairs.append((slot, out, ref))
    for slot in DATA["mutated_slots"]:
        index = int(slot["index"])
        pairs.append(
            (
                {**slot, "dtype": str(args[index].dtype).removeprefix("torch.")},
                args[index],
                ref_mutated[index],
            )
        )
    labelled = bool(DATA["labelled"]) or len(pairs) > 1
    first: Outcome | None = None
    for slot, out, ref in pairs:
        if not slot["compare"]:
            continue
        if not isinstance(out, torch.Tensor):
            return Outcome("dtype-mismatch", f"{slot['label']} is {type(out).__name__}, not a tensor")
        outcome = compare(out, ref, slot)
        if outcome.category != "passed":
            message = f"{slot['label']}: {outcome.message}" if labelled else outcome.message
            return Outcome(outcome.category, message)
        first = first or outcome
    return first or Outcome("passed", "")


# ---------------------------------------------------------------------------------------------
# Driver.


def _reproduce(args: argparse.Namespace) -> Outcome:
    """Run the failing stage in this process; the caller set TRITON_INTERPRET as needed."""
    _import_toolchain()
    if DATA["stage"] == "compile":
        stderr_log: list[str] = []
        try:
            return compile_for_target(args.level or DATA["compile_level"], stderr_log)
        except CannotRun:
            raise
        except Exception as exc:
            return with_compiler_log(classify(exc), "".join(stderr_log))
    native = DATA["mode"] == "native" and not args.interpret
    if native:
        import torch

        if not torch.cuda.is_available():
            raise CannotRun(
                f"this case ran natively on a {DATA['target']['name']} GPU (mode native) and needs a "
                "CUDA GPU to run; on CPU, --interpret runs it under the Triton interpreter instead"
            )
    return run_case(native, args.random_inputs)


def _in_child(args: argparse.Namespace) -> Outcome:
    """Run this file again with ``--child``, so that a crash by signal or a hang is observed
    from outside instead of ending (or stalling) this process."""
    # The child enforces the record's limit itself (_watchdog); this one only catches a child
    # that hangs elsewhere, after a margin for starting Python and importing torch and triton.
    limit = DATA.get("timeout_s")
    timeout = float(limit) + CHILD_STARTUP_S if limit else None
    argv = [sys.executable, os.path.abspath(__file__), "--child"]
    argv += [
        flag for flag, on in (("--random-inputs", args.random_inputs), ("--interpret", args.interpret)) if on
    ]
    if args.level:
        argv += ["--level", args.level]
    stage = "compile" if DATA["stage"] == "compile" else "run"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        message = f"the child process did not finish within {timeout:g} s"
        return Outcome(f"{stage}-timeout", message)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode < 0:
        import signal

        name = signal.Signals(-proc.returncode).name
        crashed = stage == "compile" and name in CLASSIFICATION["crash_signals"]
        return Outcome(
            "compiler-crash" if crashed else "worker-died",
            f"the process died by {name} during the {stage}",
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_CHILD_MARK):
            data = json.loads(line[len(_CHILD_MARK) :])
            if data["category"] == "cannot-run":
                raise CannotRun(data["message"])
            return Outcome(data["category"], data["message"], data.get("signature"))
    return Outcome("worker-died", f"the process exited with status {proc.returncode} and no outcome")


def _verdict(outcome: Outcome) -> int:
    """Print the verdict line and return the exit status: reproduced only when the category and
    the signature are the record's (the signature is not compared where either side has none: a
    record made before signatures, or a child that died or timed out)."""
    recorded, recorded_signature = DATA["category"], DATA.get("signature")
    first = (outcome.message.strip().splitlines() or [""])[0][:500]
    # Categories of a case compared with its reference; without one they cannot be checked.
    if outcome.category == "ran" and recorded in CLASSIFICATION["compared"]:
        print(f"CANNOT RUN: {first}; no reference was embedded, so the outputs cannot be compared")
        return EXIT_CANNOT_RUN
    if outcome.category in ("passed", "ran"):
        print(f"NOT REPRODUCED: passed ({first})" if first else "NOT REPRODUCED: passed")
        return EXIT_NOT_REPRODUCED
    same = recorded_signature is None or outcome.signature in (None, recorded_signature)
    if outcome.category == recorded and same:
        print(f"REPRODUCED {recorded}: {first}")
        return EXIT_REPRODUCED
    got = f"{outcome.category} (signature {outcome.signature or '-'})"
    print(f"NOT REPRODUCED: got {got}, recorded: {recorded} (signature {recorded_signature or '-'}): {first}")
    return EXIT_FAILED_DIFFERENTLY


def main(argv: list[str] | None = None) -> int:
    """Reproduce the case; returns the exit status (module docstring)."""
    parser = argparse.ArgumentParser(description="Reproduce one kcheck case without the checker.")
    parser.add_argument("--show-code", action="store_true", help="print the generated Triton code and exit")
    parser.add_argument("--level", choices=("check", "full"), help="how far a compile goes")
    parser.add_argument("--random-inputs", action="store_true", help="random inputs when none were embedded")
    parser.add_argument("--interpret", action="store_true", help="run a native case under the interpreter")
    parser.add_argument(
        "--any-toolchain",
        action="store_true",
        help="replay the case with this Python's torch, triton and helion even where their versions "
        "differ from the record's (their differences are then warnings)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.show_code:
        print(GENERATED_CODE)
        return EXIT_NOT_REPRODUCED
    interpret = DATA["stage"] == "run" and (DATA["mode"] != "native" or args.interpret)
    # Triton decides at import whether @triton.jit interprets: set before anything imports it.
    if interpret:
        if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
            print("CANNOT RUN: triton was imported before TRITON_INTERPRET=1 could be set")
            return EXIT_CANNOT_RUN
        os.environ["TRITON_INTERPRET"] = "1"
    else:
        os.environ.pop("TRITON_INTERPRET", None)
    if args.child:
        try:
            outcome = _reproduce(args)
            data = {"category": outcome.category, "message": outcome.message, "signature": outcome.signature}
        except CannotRun as exc:
            data = {"category": "cannot-run", "message": str(exc)}
        sys.stdout.flush()
        print(_CHILD_MARK + json.dumps(data), flush=True)
        return 0
    _print_header()
    problem = toolchain_problem(args.any_toolchain)
    if problem is not None:
        print(f"CANNOT RUN: {problem}")
        return EXIT_CANNOT_RUN
    try:
        outcome = _in_child(args) if DATA["isolate"] else _reproduce(args)
    except CannotRun as exc:
        print(f"CANNOT RUN: {exc}")
        return EXIT_CANNOT_RUN
    return _verdict(outcome)


if __name__ == "__main__":
    sys.exit(main())
