"""How one case of a plain Triton kernel is launched, in whatever process runs or compiles it.

A plain Triton case's generated code (checker/triton_codegen.py) is a host module that calls
:func:`host_launch` with references to the spec's kernel and launcher and the case's flat config
dict. Everything that call needs lives here, below the spec API (checker/triton_spec.py), so a
compile worker, a case worker or a standalone reproducer needs no spec object: the config of one
launch (:class:`TritonConfig`: keyword arguments plus ``num_warps``/``num_stages``), how the
checker takes a Triton kernel object apart (:func:`unwrap`: the ``@triton.jit`` function inside
heuristics, autotuners and library wrappers, and the keyword arguments they would launch it
with) and names it through the spec that holds it (:func:`refs`), the launch itself, and what makes
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


#: How deep :func:`unwrap` follows ``.fn`` before giving up (a wrapper that wraps itself).
MAX_LAYERS = 16


@dataclass(frozen=True)
class KernelLayers:
    """A Triton kernel object taken apart: the ``@triton.jit`` function and what wraps it.

    Attributes:
        jit: the JITFunction (an InterpretedFunction under ``TRITON_INTERPRET=1``).
        layers: the wrappers around it, outermost first: ``Autotuner`` (any subclass),
            ``Heuristics`` (any subclass), or a library's own thin wrapper (FlagGems'
            ``libentry``), whose own launch logic is not run.
    """

    jit: Any
    layers: tuple[Any, ...] = ()

    @property
    def autotuner(self) -> Any:
        """The outermost ``triton.runtime.autotuner.Autotuner`` layer, or None."""
        from triton.runtime.autotuner import Autotuner

        return next((layer for layer in self.layers if isinstance(layer, Autotuner)), None)

    @property
    def heuristics(self) -> list[Any]:
        """The ``Heuristics`` layers, outermost first."""
        from triton.runtime.autotuner import Heuristics

        return [layer for layer in self.layers if isinstance(layer, Heuristics)]

    def computed(self) -> set[str]:
        """Names the kernel's heuristics compute (they are never config knobs)."""
        return {name for layer in self.heuristics for name in layer.values}

    def launch_kwargs(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], config: TritonConfig | None
    ) -> dict[str, Any]:
        """The keyword arguments the JIT function is launched with, as Triton's wrappers would
        make them: the launcher's ``kwargs``; at the autotuner's layer (``config`` given) the
        config's keyword arguments and launch options (``Autotuner.run``); at each heuristics
        layer its values, each ``fn({**dict(zip(arg_names, args)), **kwargs})``
        (``Heuristics.run``), so a heuristic below the autotuner sees the config and one above
        it does not; a value a heuristic computes wins over what it wraps, as in Triton.
        Without an autotuner ``config`` is None and the caller adds the launch options.
        """
        from triton.runtime.autotuner import Autotuner, Heuristics

        out = dict(kwargs)
        for layer in self.layers:
            if isinstance(layer, Autotuner) and config is not None:
                out.update(config.config)
            elif isinstance(layer, Heuristics):
                for name, heur in layer.values.items():
                    out[name] = heur({**dict(zip(layer.arg_names, args, strict=False)), **out})
        return out


def _is_jit(obj: Any) -> bool:
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    return isinstance(obj, (JITFunction, InterpretedFunction))


def _kind(obj: Any) -> str:
    """``module.Class`` of ``obj``: what an error says instead of its repr."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def unwrap(kernel: Any) -> KernelLayers:
    """``kernel`` taken apart: ``.fn`` is followed while the object is a Triton
    ``KernelInterface`` (``@triton.autotune``, ``@triton.heuristics``, their subclasses, a
    library's own subclass) or holds one in ``.fn`` (a thin wrapper), down to the JIT function.

    Raises:
        SpecError: ``kernel`` leads to no ``@triton.jit`` function; the message names the type
            of what was found (never its repr) and what to pass instead.
    """
    from triton.runtime.jit import KernelInterface

    layers: list[Any] = []
    obj = kernel
    for _ in range(MAX_LAYERS):
        if _is_jit(obj):
            return KernelLayers(obj, tuple(layers))
        inner = getattr(obj, "fn", None)
        if inner is None or not (isinstance(obj, KernelInterface) or isinstance(inner, KernelInterface)):
            break
        layers.append(obj)
        obj = inner
    found = _kind(obj) if obj is kernel else f"{_kind(obj)} inside {' -> '.join(map(_kind, layers))}"
    raise SpecError(
        f"the kernel is a {found}, not a Triton kernel: pass the @triton.jit function, or an "
        "object that wraps one in `.fn` (@triton.autotune, @triton.heuristics, a subclass of "
        "triton's Autotuner/Heuristics/KernelInterface, a library wrapper such as FlagGems' "
        "libentry); see docs/kernel-spec.md#plain-triton-kernels"
    )


def jit_function(kernel: Any) -> Any:
    """The ``@triton.jit`` function (a JITFunction, or an InterpretedFunction under
    TRITON_INTERPRET=1) inside ``kernel`` (:func:`unwrap`)."""
    return unwrap(kernel).jit


def is_autotuned(kernel: Any) -> bool:
    """True when ``kernel`` has an ``Autotuner`` layer (``@triton.autotune`` or any subclass)."""
    return unwrap(kernel).autotuner is not None


def python_function(kernel: Any) -> Callable[..., Any]:
    """The plain Python function behind a (possibly wrapped) Triton kernel."""
    return unwrap(kernel).jit.fn  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SpecHome:
    """Where a spec module holds a spec (set by ``specs_of_module`` for a TritonSpec): the
    host module of a case resolves the kernel and launcher through it, so the object the spec
    names is the object that runs in every process, whatever its ``__module__``/``__name__``
    resolve to.

    Attributes:
        module: the spec module's importable name (``kcheck_kernels.<dir>__<stem>``).
        file: its absolute path (a standalone reproducer loads it from there).
        spec: the spec's name.
    """

    module: str
    file: str
    spec: str


#: (module, file, spec name or None, attribute): how a host module names the kernel or the
#: launcher: attribute ``kernel``/``launch`` of the named spec's TritonKernel, or with no spec
#: the module attribute itself.
Ref = tuple[str, str, str | None, str]


def refs(kernel: Any, launch: Callable[..., Any], home: SpecHome | None) -> tuple[Ref, Ref]:
    """How the host module names ``kernel`` and ``launch``.

    Through the spec (``home``) when the spec was loaded from a spec module; otherwise (a spec
    built outside one, as unit tests do) as module attributes, and only when the module
    attribute is the very object given.

    Raises:
        SpecError: without ``home``, an object its module does not hold under its name (a
            lambda, a nested function, the inner ``@triton.jit`` function of a wrapper that the
            module holds under the same name); the message says what to do.
    """
    if home is not None:
        return (home.module, home.file, home.spec, "kernel"), (home.module, home.file, home.spec, "launch")
    return _attribute_ref(kernel, "kernel"), _attribute_ref(launch, "launcher")


def _attribute_ref(obj: Any, what: str) -> Ref:
    fn = python_function(obj) if what == "kernel" else obj
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    mod = sys.modules.get(module or "")
    if mod is None or getattr(mod, name, None) is not obj:
        raise SpecError(
            f"the {what} {module}.{name} is not what its module holds under that name (a nested "
            "function, a lambda, or the function inside a wrapper), and the spec was not loaded "
            "from a spec module: declare the spec as SPEC/SPECS of a kernel module (kcheck then "
            "finds the kernel through the spec), or pass the module-level object"
        )
    return module or "", _file_of(module or ""), None, name


def _file_of(module: str) -> str:
    mod = sys.modules.get(module)
    return os.path.abspath(getattr(mod, "__file__", "") or "")


# --- what the generated host module calls ---------------------------------------------------


def _resolve(ref: Ref) -> Any:
    """The object ``ref`` names; a kernel spec module (``kcheck_kernels.*``) that is not
    registered in this process (a standalone reproducer) is loaded from its file.

    Raises:
        LookupError: the spec module declares no spec of that name (any more).
    """
    module, file, spec_name, attribute = ref
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        if not module.startswith("kcheck_kernels.") or not os.path.isfile(file):
            raise
        from pathlib import Path

        from checker import loader

        mod = loader.load(Path(file))
    if spec_name is None:
        return getattr(mod, attribute)
    declared = [*([mod.SPEC] if hasattr(mod, "SPEC") else []), *getattr(mod, "SPECS", [])]
    for spec in declared:
        if getattr(spec, "name", None) == spec_name:
            return getattr(spec.kernel, attribute)
    raise LookupError(f"{module} ({file}) declares no kernel spec named {spec_name!r}")


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


class LauncherError(SpecError, TypeError):
    """A spec's launcher passes a keyword the case's config sets (its fault, not the kernel's)."""


class _Launchable:
    """What the launcher receives as ``kernel``: ``kernel[grid](*args, **kwargs)`` launches the
    JIT function inside the spec's kernel with the keyword arguments its wrappers would give it
    (:meth:`KernelLayers.launch_kwargs`: the case's config at the autotuner's layer, heuristics
    applied) and the case's launch options, through ``launcher`` (Triton's launch, or the
    compile stage's capturing one)."""

    def __init__(self, layers: KernelLayers, config: TritonConfig, launcher: Callable[..., Any]) -> None:
        self._layers = layers
        self._config = config
        self._launcher = launcher

    @property
    def fn(self) -> Any:
        """The JIT function itself (for launchers that need its attributes)."""
        return self._layers.jit

    def __getitem__(self, grid: Any) -> Callable[..., Any]:
        return functools.partial(self._launch, grid)

    def _launch(self, grid: Any, *args: Any, **kwargs: Any) -> Any:
        options = {"num_warps": self._config.num_warps, "num_stages": self._config.num_stages}
        clash = sorted(set(kwargs) & set(options))
        if clash:
            raise LauncherError(f"the launcher passes {clash}; the case's config sets them")
        if self._layers.autotuner is not None:
            merged = self._layers.launch_kwargs(args, kwargs, self._config)
        else:
            # The launch options enter where a launcher would pass them: at the top, so a
            # heuristic that computes num_warps overrides them as in Triton.
            merged = self._layers.launch_kwargs(args, {**kwargs, **options}, None)
        if callable(grid):
            names = list(inspect.signature(self._layers.jit.fn).parameters)
            grid = grid({**dict(zip(names, args, strict=False)), **merged})
        grid = tuple(grid) if isinstance(grid, (tuple, list)) else (grid,)
        return self._launcher(self._layers.jit, grid, *args, **merged)


def _triton_launch(kernel: Any, grid: tuple[int, ...], *args: Any, **kwargs: Any) -> Any:
    return kernel[grid](*args, **kwargs)


def host_launch(
    kernel_ref: Ref,
    launch_ref: Ref,
    config: Mapping[str, Any],
    args: tuple[Any, ...],
    launcher: Callable[..., Any] | None = None,
) -> Any:
    """Run one case: the launcher with the case's inputs and config. Called by the generated
    host module (checker/triton_codegen.py), in every process that runs or compiles a case.

    ``kernel_ref``/``launch_ref`` name the spec's kernel and launcher (:func:`refs`);
    ``config`` is the flat config dict; ``launcher`` the compile stage's capturing launcher, or
    None for Triton's own launch. The launcher gets the config's keyword arguments unless the
    kernel has an autotuner (which gets them, as in Triton). Under the Triton interpreter the
    kernel's ``libdevice`` functions are routed to equivalents first (:func:`shim_kernel_globals`).
    """
    layers = unwrap(_resolve(kernel_ref))
    launch = _resolve(launch_ref)
    cfg = TritonConfig.of(config)
    proxy = _Launchable(layers, cfg, launcher or _triton_launch)
    kwargs = {} if layers.autotuner is not None else cfg.kwargs_dict
    if not _interpreting():
        return launch(proxy, *args, **kwargs)
    shim_kernel_globals(layers.jit)
    with fp32_float_args():
        return launch(proxy, *args, **kwargs)


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
