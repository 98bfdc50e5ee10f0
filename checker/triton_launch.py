"""How one case of a plain Triton kernel is launched, in whatever process runs or compiles it.

A plain Triton case's generated code (checker/triton_codegen.py) is a host module that calls
:func:`host_launch` with references to the spec's kernel and launcher and the case's flat config
dict. Everything that call needs lives here, below the spec API (checker/triton_spec.py), so a
compile worker, a case worker or a standalone reproducer needs no spec object: the config of one
launch (:class:`TritonConfig`: keyword arguments plus ``num_warps``/``num_stages``), how the
checker reads a Triton kernel object (the ``@triton.jit`` function inside an ``@triton.autotune``
one) and names it by module and attribute (:func:`refs`), the launch itself, and what makes
such a kernel run under the Triton interpreter as it would on a GPU (:func:`fp32_float_args`,
:func:`shim_kernel_globals`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker import blame
from checker.spec import SpecError

#: Config keys that are launch options, not kernel keyword arguments (``triton.Config``'s own
#: names). Everything else in a config dict is a keyword argument (usually a constexpr).
LAUNCH_OPTIONS = ("num_warps", "num_stages")
#: Values of launch options a config or space leaves out: ``triton.Config``'s defaults.
OPTION_DEFAULTS: dict[str, int] = {"num_warps": 4, "num_stages": 3}


@dataclass(frozen=True)
class TritonConfig:
    """One config of a plain Triton kernel: keyword arguments plus launch options.

    ``config`` is the flat dict records carry (``{"BLOCK_SIZE": 128, "num_warps": 4,
    "num_stages": 2}``, as ``triton.Config.all_kwargs()`` spells it), so the minimal-failing-config
    search treats each keyword argument and each option as one knob, and ``TritonConfig.of(d)``
    rebuilds the config from a record.

    Attributes:
        kwargs: keyword arguments of the kernel (``BLOCK_SIZE``...), as (name, value) pairs in
            declaration order (a tuple: the config is hashable and immutable).
        num_warps: warps per program.
        num_stages: software pipelining stages.
    """

    kwargs: tuple[tuple[str, Any], ...] = ()
    num_warps: int = OPTION_DEFAULTS["num_warps"]
    num_stages: int = OPTION_DEFAULTS["num_stages"]

    @property
    def config(self) -> dict[str, Any]:
        """The flat dict: keyword arguments, then ``num_warps`` and ``num_stages``."""
        return {**dict(self.kwargs), "num_warps": self.num_warps, "num_stages": self.num_stages}

    @property
    def kwargs_dict(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def __repr__(self) -> str:
        return (
            f"triton.Config({dict(self.kwargs)!r}, num_warps={self.num_warps}, num_stages={self.num_stages})"
        )

    @classmethod
    def of(cls, config: Any) -> TritonConfig:
        """A TritonConfig from a ``triton.Config``, a flat config dict (a record's ``config``), a
        ``helion.Config`` made from one (repro and triage probes build those), or itself.

        Raises:
            SpecError: a ``triton.Config`` with what a case cannot reproduce (a ``pre_hook``,
                ``num_ctas`` other than 1, ``maxnreg``, ``ir_override``), or a value that is no
                config at all.
        """
        if isinstance(config, TritonConfig):
            return config
        if _is_triton_config(config):
            unsupported = [
                name
                for name, default in (
                    ("pre_hook", None),
                    ("num_ctas", 1),
                    ("maxnreg", None),
                    ("ir_override", None),
                )
                if getattr(config, name, default) != default
            ]
            if unsupported:
                raise SpecError(
                    f"triton.Config {config}: {', '.join(unsupported)} not supported by kcheck "
                    "(a case runs one config as given; see docs/kernel-spec.md#plain-triton-kernels)"
                )
            return cls(tuple(config.kwargs.items()), int(config.num_warps), int(config.num_stages))
        flat = getattr(config, "config", config)
        if isinstance(flat, Mapping):
            kwargs = tuple((k, v) for k, v in flat.items() if k not in LAUNCH_OPTIONS)
            options = {k: int(flat.get(k, OPTION_DEFAULTS[k])) for k in LAUNCH_OPTIONS}
            return cls(kwargs, **options)
        raise SpecError(f"not a plain Triton config: {config!r}")


def _is_triton_config(value: Any) -> bool:
    return type(value).__name__ == "Config" and type(value).__module__.startswith("triton")


def jit_function(kernel: Any) -> Any:
    """The ``@triton.jit`` function (a JITFunction, or an InterpretedFunction under
    TRITON_INTERPRET=1) inside ``kernel``: itself, or the function an ``@triton.autotune``
    wraps."""
    return kernel.fn if is_autotuned(kernel) else kernel


def is_autotuned(kernel: Any) -> bool:
    """True for a ``@triton.autotune`` kernel (Triton's ``Autotuner``)."""
    return type(kernel).__name__ == "Autotuner" and hasattr(kernel, "configs")


def python_function(kernel: Any) -> Callable[..., Any]:
    """The plain Python function behind a (possibly autotuned) Triton kernel."""
    fn = jit_function(kernel)
    inner = getattr(fn, "fn", fn)
    if not callable(inner):
        raise SpecError(f"{kernel!r} is not a @triton.jit function")
    return inner  # type: ignore[no-any-return]


def module_level(obj: Any, what: str) -> tuple[str, str]:
    """(module, attribute) under which ``obj`` can be imported in another process.

    Raises:
        SpecError: ``obj`` is not reachable as ``module.attribute`` (a lambda, a nested function).
    """
    fn = python_function(obj) if what == "kernel" else obj
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "." in name or "<" in name:
        raise SpecError(
            f"the {what} {name or obj!r} must be a module-level function (worker processes import "
            "it by module and name)"
        )
    # For a kernel the attribute may hold the Autotuner rather than the function: either works.
    return module, name


def refs(kernel: Any, launch: Callable[..., Any]) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(module, attribute, file) of ``kernel`` (a ``@triton.jit`` or ``@triton.autotune`` kernel)
    and of ``launch``, its launcher, as the host module names them.

    Raises:
        SpecError: either is not a module-level function.
    """
    k_module, k_name = module_level(kernel, "kernel")
    l_module, l_name = module_level(launch, "launcher")
    # The kernel object in its module: the Autotuner when autotuned (its configs), else the JIT
    # function; both are found under the Python function's name.
    return (k_module, k_name, _file_of(k_module)), (l_module, l_name, _file_of(l_module))


def _file_of(module: str) -> str:
    mod = sys.modules.get(module)
    return os.path.abspath(getattr(mod, "__file__", "") or "")


# --- what the generated host module calls ---------------------------------------------------


def _resolve(module: str, attribute: str, file: str) -> Any:
    """``module.attribute``; a kernel spec module (``kcheck_kernels.*``) that is not registered
    in this process (a standalone reproducer) is loaded from ``file``."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        if not module.startswith("kcheck_kernels.") or not os.path.isfile(file):
            raise
        from pathlib import Path

        from checker import loader

        mod = loader.load(Path(file))
    return getattr(mod, attribute)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


class LauncherError(SpecError, TypeError):
    """A spec's launcher passes a keyword the case's config sets (its fault, not the kernel's)."""


class _Launchable:
    """What the launcher receives as ``kernel``: ``kernel[grid](*args, **kwargs)`` launches the
    wrapped JIT function with the case's launch options (and, for an autotuned kernel, the
    config's keyword arguments) through ``launcher`` (Triton's launch, or the compile stage's
    capturing one)."""

    def __init__(
        self, fn: Any, inject: dict[str, Any], options: dict[str, int], launcher: Callable[..., Any]
    ):
        self._fn = fn
        self._inject = inject
        self._options = options
        self._launcher = launcher

    @property
    def fn(self) -> Any:
        """The JIT function itself (for launchers that need its attributes)."""
        return self._fn

    def __getitem__(self, grid: Any) -> Callable[..., Any]:
        return functools.partial(self._launch, grid)

    def _launch(self, grid: Any, *args: Any, **kwargs: Any) -> Any:
        clash = sorted(set(kwargs) & set(self._options))
        if clash:
            raise LauncherError(f"the launcher passes {clash}; the case's config sets them")
        merged = {**self._inject, **kwargs}
        if callable(grid):
            names = list(inspect.signature(getattr(self._fn, "fn", self._fn)).parameters)
            grid = grid({**dict(zip(names, args, strict=False)), **merged, **self._options})
        grid = tuple(grid) if isinstance(grid, (tuple, list)) else (grid,)
        return self._launcher(self._fn, grid, *args, **merged, **self._options)


def _triton_launch(kernel: Any, grid: tuple[int, ...], *args: Any, **kwargs: Any) -> Any:
    return kernel[grid](*args, **kwargs)


def host_launch(
    kernel_ref: tuple[str, str, str],
    launch_ref: tuple[str, str, str],
    config: Mapping[str, Any],
    args: tuple[Any, ...],
    launcher: Callable[..., Any] | None = None,
) -> Any:
    """Run one case: the launcher with the case's inputs and config. Called by the generated
    host module (checker/triton_codegen.py), in every process that runs or compiles a case.

    ``kernel_ref``/``launch_ref`` are (module, attribute, file); ``config`` the flat config dict;
    ``launcher`` the compile stage's capturing launcher, or None for Triton's own launch. Under
    the Triton interpreter the kernel's ``libdevice`` functions are routed to equivalents first
    (:func:`shim_kernel_globals`).
    """
    kernel = _resolve(*kernel_ref)
    launch = _resolve(*launch_ref)
    cfg = TritonConfig.of(config)
    fn = jit_function(kernel)
    autotuned = is_autotuned(kernel)
    options = {"num_warps": cfg.num_warps, "num_stages": cfg.num_stages}
    proxy = _Launchable(fn, cfg.kwargs_dict if autotuned else {}, options, launcher or _triton_launch)
    if not _interpreting():
        return launch(proxy, *args, **({} if autotuned else cfg.kwargs_dict))
    shim_kernel_globals(fn)
    with fp32_float_args():
        return launch(proxy, *args, **({} if autotuned else cfg.kwargs_dict))


@contextlib.contextmanager
def fp32_float_args() -> Iterator[None]:
    """While active, the Triton interpreter passes Python float arguments as fp32 scalars.

    On a GPU a float argument is an fp32 scalar (Triton's ``mangle_type`` gives ``fp32``), and
    kernels call its methods: Liger-Kernel's ``eps.to(tl.float32)``, ``gate_multiplier.to(...)``.
    Triton 3.6's interpreter (``_implicit_cvt`` in triton/runtime/interpreter.py) wraps ints and
    pointers but hands floats over as Python floats, so those kernels failed under it with
    ``AttributeError: 'float' object has no attribute 'to'`` (measured on liger's rms_norm and
    swiglu). Scoped to plain Triton launches: Helion's generated code was measured against a GPU
    with the interpreter as it is (docs/cpu-gpu-agreement.md).
    """
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter as ti

    original = ti._implicit_cvt

    def implicit_cvt(arg: Any) -> Any:
        if isinstance(arg, float):
            return tl.tensor(ti.TensorHandle(np.array([arg], dtype=np.float32), tl.float32), tl.float32)
        return original(arg)

    ti._implicit_cvt = implicit_cvt
    try:
        yield
    finally:
        ti._implicit_cvt = original


_LIBDEVICE_MODULES = ("triton.language.extra.libdevice", "triton.language.extra.cuda.libdevice")


def shim_kernel_globals(fn: Any, _seen: set[int] | None = None) -> None:
    """Route libdevice functions that ``fn`` (and the JIT functions it calls) reach through
    module globals to the interpreter's equivalents (checker.interpreter.LIBDEVICE_SHIM).

    Helion's generated modules import ``libdevice`` as a module, which install_shims replaces;
    plain Triton code usually imports the functions themselves (Liger-Kernel:
    ``from triton.language.extra.libdevice import rsqrt``), and under the interpreter such a
    call returns None. Only this process's module globals change, and only under the
    interpreter. A function with no equivalent raises InterpreterGap when called
    (``interpreter-unsupported``), not at import.
    """
    from checker import interpreter

    seen = _seen if _seen is not None else set()
    inner = getattr(fn, "fn", fn)
    scope = getattr(inner, "__globals__", None)
    if scope is None or id(scope) in seen:
        return
    seen.add(id(scope))
    for name, value in list(scope.items()):
        module = getattr(value, "__module__", None)
        if module in _LIBDEVICE_MODULES and callable(value) and not inspect.ismodule(value):
            scope[name] = _libdevice_call(getattr(value, "__name__", name))
        elif inspect.ismodule(value) and value.__name__ in _LIBDEVICE_MODULES:
            scope[name] = interpreter.LIBDEVICE_SHIM
        elif type(value).__name__ in ("InterpretedFunction", "JITFunction"):
            shim_kernel_globals(value, seen)


def _libdevice_call(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        from checker import interpreter

        # Looked up per call: a function without an equivalent raises InterpreterGap only if
        # the kernel really calls it (Liger imports tanh for soft-capping it may never use).
        return getattr(interpreter.LIBDEVICE_SHIM, name)(*args)

    call.__name__ = f"libdevice_{name}"
    # It only forwards the kernel's own call to the interpreter's shim (checker.blame).
    return blame.passthrough(call)
