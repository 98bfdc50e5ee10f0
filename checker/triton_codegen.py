"""The "generated code" of a plain Triton case: its host module.

A Helion case's code is what Helion generates: Triton kernels plus a host function. A plain
Triton case (checker/triton_spec.py) has no generator, so the checker writes the host module
itself: a host function with Helion's calling convention (``entry(*inputs, _launcher=...)``)
that calls the spec's launcher with the case's config. That is all the compile stage
(checker/compile.py: capture the launch, ``ASTSource``, ``triton.compile`` for the target), the
interpreter run and the standalone reproducer need, unchanged.

Below the host function the module quotes, as comments, the source of the kernel, of every
``@triton.jit`` function it reaches through its module's globals, of the launcher, and the
values of the constants they read. They are never executed; they are there because the compile
cache keys on this text (a changed kernel must never reuse an old verdict), because the
interpreter's checks read the code (checker/interpreter.py: fp8 conversions), and for a reader
of ``kcheck repro --show-code``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any, Protocol

from checker.triton_launch import SpecHome, TritonConfig, refs, unwrap


class HostedKernel(Protocol):
    """What the host module is written from: a :class:`checker.triton_spec.TritonKernel`."""

    @property
    def kernel(self) -> Any:
        """The ``@triton.jit`` kernel, or an object wrapping one (checker.triton_launch.unwrap)."""

    @property
    def launch(self) -> Callable[..., Any]:
        """The spec's launcher."""

    @property
    def home(self) -> SpecHome | None:
        """Where a spec module holds the spec (None: a spec built outside one)."""

    @property
    def name(self) -> str:
        """The host function's name: the kernel function's."""


def host_module(kernel: HostedKernel, config: TritonConfig) -> str:
    """Source of the host module of ``kernel`` under ``config``.

    The host function is named ``kernel.name``; it takes the inputs ``make_inputs`` returned and
    Helion's ``_launcher`` keyword (the compile stage passes a capturing one).

    Raises:
        SpecError: the spec was not loaded from a spec module and the kernel or launcher is not
            what its module holds under its name (checker.triton_launch.refs).
    """
    kernel_ref, launch_ref = refs(kernel.kernel, kernel.launch, kernel.home)
    lines = [
        f'"""kcheck host module of the plain Triton kernel {kernel.name}',
        "",
        "Written by checker/triton_codegen.py, not by Helion: the host function calls the spec's",
        'launcher with the config below (KERNEL and LAUNCH: checker.triton_launch.refs)."""',
        "",
        "from checker.triton_launch import host_launch as _host_launch",
        "",
        f"KERNEL = {kernel_ref!r}",
        f"LAUNCH = {launch_ref!r}",
        f"CONFIG = {config.config!r}",
        "",
        "",
        f"def {kernel.name}(*args, _launcher=None):",
        "    return _host_launch(KERNEL, LAUNCH, CONFIG, args, _launcher)",
        "",
        "",
        "# ---- quoted for the compile cache key, the interpreter's checks and readers; not run ----",
    ]
    for title, text in _quoted(kernel):
        lines.append(f"# == {title}")
        lines.extend(f"# | {line}".rstrip() for line in text.splitlines())
    return "\n".join(lines) + "\n"


def _quoted(kernel: HostedKernel) -> list[tuple[str, str]]:
    """(title, text) of the kernel's wrappers (their heuristics change what is compiled), the
    kernel, the JIT functions it reaches, the launcher, and constants."""
    # Here, not at the top: importing a spec module must not import the stage cache and with it
    # the compile stack (checker.triton_spec imports this module). The name walk belongs below
    # both; see docs/architecture.md.
    from checker.cache.identity import global_names

    out: list[tuple[str, str]] = []
    constants: dict[str, str] = {}
    seen: set[int] = set()

    def visit(fn: Any) -> None:
        inner = getattr(fn, "fn", fn)
        if id(inner) in seen or not isinstance(inner, types.FunctionType):
            return
        seen.add(id(inner))
        out.append((f"{inner.__module__}.{inner.__qualname__}", _source(inner)))
        scope = inner.__globals__
        for name in sorted(global_names(inner.__code__)):
            if name not in scope:
                continue
            value = scope[name]
            if type(value).__name__ in ("JITFunction", "InterpretedFunction"):
                visit(value)
            elif type(value).__name__ == "constexpr" or isinstance(value, (int, float, str, bool)):
                constants[f"{inner.__module__}.{name}"] = repr(getattr(value, "value", value))

    layers = unwrap(kernel.kernel)
    for layer in layers.layers:
        kind = f"{type(layer).__module__}.{type(layer).__qualname__}"
        values = getattr(layer, "values", None) if layer in layers.heuristics else None
        text = "\n".join(f"{name}: {_source(fn).strip()}" for name, fn in (values or {}).items())
        out.append((f"wrapper {kind}", text or "(no heuristics)"))
    visit(layers.jit)
    out.append((f"launcher {kernel.launch.__module__}.{kernel.launch.__qualname__}", _source(kernel.launch)))
    if constants:
        out.append(("constants", "\n".join(f"{k} = {v}" for k, v in sorted(constants.items()))))
    return out


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return f"<source of {fn!r} not available>"
