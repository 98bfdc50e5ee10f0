"""Plain Triton kernels under the same spec API as Helion kernels.

Most kernel libraries (Liger-Kernel, FlagGems, the Triton kernels of vLLM and SGLang) write
Triton directly. A :class:`TritonSpec` wraps such a kernel: a ``@triton.jit`` function plus a
*launcher* (a Python function that allocates outputs, computes the grid and launches the kernel
with the case's config), or a ``@triton.autotune`` kernel whose config list becomes the named
configs of the sweep (``tune0``, ``tune1``...; each case runs exactly one config, no autotuning)::

    @triton.jit
    def scale_kernel(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr): ...

    def launch(kernel, x, *, BLOCK_SIZE):          # inputs from make_inputs, then config kwargs
        y = torch.empty_like(x)
        kernel[(triton.cdiv(x.numel(), BLOCK_SIZE),)](x, y, x.numel(), BLOCK_SIZE=BLOCK_SIZE)
        return y

    SPEC = TritonSpec(
        name="scale",
        kernel=TritonKernel(scale_kernel, launch, space=ConfigSpace({"BLOCK_SIZE": [64, 128]})),
        reference=..., make_inputs=..., shapes=..., small_shapes=..., dtypes=...,
        configs={"b128": triton.Config({"BLOCK_SIZE": 128}, num_warps=4, num_stages=2)},
    )

Everything after the spec is the Helion pipeline unchanged: the adapter below gives the checker
what it asks of a Helion kernel (``bind``, ``to_triton_code``, ``config_spec``), so the compile
stage, the interpreter, numerics, records, reports, triage and repro need no second path. The
"generated code" of a case is a small host module (checker/triton_codegen.py) whose host
function calls the launcher with the config; its golden file is the kernel's normalized TTIR.
docs/kernel-spec.md#plain-triton-kernels has the full description.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker import blame
from checker.spec import DefaultConfig, KernelSpec, SpecError

#: Config keys that are launch options, not kernel keyword arguments (``triton.Config``'s own
#: names). Everything else in a config dict is a keyword argument (usually a constexpr).
LAUNCH_OPTIONS = ("num_warps", "num_stages")
#: Values of launch options a config or space leaves out: ``triton.Config``'s defaults.
OPTION_DEFAULTS: dict[str, int] = {"num_warps": 4, "num_stages": 3}
#: Redraws of one sampled config before the draw is given up as ``invalid-config``.
MAX_REDRAWS = 64


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


#: One knob's values: a sequence, or a function of the case's inputs returning one.
KnobValues = Sequence[Any] | Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class ConfigSpace:
    """The space sampled configs of a plain Triton kernel are drawn from.

    ``knobs`` maps each knob (a kernel keyword argument such as ``BLOCK_SIZE``, or ``num_warps``
    / ``num_stages``) to its values: a sequence, or a function of the case's inputs (the tuple
    ``make_inputs`` returned, by layout only where the case does not run) that returns one, for
    knobs whose valid values depend on the shape (a row kernel needs ``BLOCK_SIZE >= n_cols``).
    Launch options the space leaves out take ``triton.Config``'s defaults (4 warps, 3 stages).
    ``where(config_dict, *inputs)`` may reject a draw (it is then drawn again, at most
    MAX_REDRAWS times; a config no draw satisfies is ``invalid-config``).

    Sampling follows the Helion rules: config ``cfgK`` is the K-th draw of a ``random.Random``
    seeded with the case's derived seed (sweep seed, kernel, shape, dtype; checker.sweep), so it
    does not depend on how many configs are drawn and is the same on every machine.
    """

    knobs: Mapping[str, KnobValues]
    where: Callable[..., bool] | None = None

    def values(self, inputs: tuple[Any, ...]) -> dict[str, list[Any]]:
        """Each knob's values for these inputs.

        Raises:
            SpecError: a knob with no values.
        """
        out: dict[str, list[Any]] = {}
        for name, values in self.knobs.items():
            got = list(values(*inputs) if callable(values) else values)
            if not got:
                raise SpecError(f"config space: knob {name!r} has no values for these inputs")
            out[name] = got
        return out

    def sample(self, inputs: tuple[Any, ...], count: int, seed: int) -> list[Any]:
        """``count`` configs (TritonConfig), or for a draw that failed the exception (recorded as
        ``invalid-config`` by the caller, as for Helion)."""
        rng = random.Random(seed)
        try:
            values = self.values(inputs)
        except Exception as exc:
            return [exc] * count
        out: list[Any] = []
        for _ in range(count):
            out.append(self._draw(rng, values, inputs))
        return out

    def _draw(self, rng: random.Random, values: dict[str, list[Any]], inputs: tuple[Any, ...]) -> Any:
        for _ in range(MAX_REDRAWS):
            flat = {name: rng.choice(vals) for name, vals in values.items()}
            try:
                if self.where is None or self.where(flat, *inputs):
                    return TritonConfig.of(flat)
            except Exception as exc:
                return exc
        return SpecError(f"config space: no draw in {MAX_REDRAWS} satisfied the space's where()")


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


def _module_level(obj: Any, what: str) -> tuple[str, str]:
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


@dataclass(frozen=True, eq=False)
class TritonKernel:
    """A plain Triton kernel and how to launch it; the ``kernel`` of a :class:`TritonSpec`.

    Attributes:
        kernel: a ``@triton.jit`` function, or a ``@triton.autotune``-decorated one (its
            ``configs`` become the spec's named configs; nothing is autotuned). Module level.
        launch: ``launch(kernel, *inputs, **kwargs)``: allocates the outputs, launches
            ``kernel[grid](...)`` once and returns the outputs (a tensor, a tuple, or None for a
            kernel that only writes ``mutates`` arguments). ``inputs`` are what ``make_inputs``
            returned (on the device). For a ``@triton.jit`` kernel ``kwargs`` are the config's
            keyword arguments (``BLOCK_SIZE=...``), which the launcher passes on and usually
            computes the grid from; for an autotuned kernel the checker adds them to the launch
            itself, as Triton's autotuner does, and the launcher gets none. ``grid`` may be a
            tuple or a function of the launch's meta-parameters (``lambda meta: ...``). The
            config's ``num_warps``/``num_stages`` are always added by the checker. Module level.
        space: the space sampled configs are drawn from (:class:`ConfigSpace`, or a mapping
            that becomes one); None: named configs only.
        default: ``default(*inputs) -> triton.Config``: what ``DEFAULT`` stands for, typically
            the config the library's own wrapper picks for these inputs (Liger's
            ``calculate_settings``); None for an autotuned kernel means its first config.
    """

    kernel: Any
    launch: Callable[..., Any]
    space: ConfigSpace | Mapping[str, KnobValues] | None = None
    default: Callable[..., Any] | None = None

    @property
    def name(self) -> str:
        """The host function's name in the generated module: the kernel function's name."""
        return python_function(self.kernel).__name__

    @property
    def config_space(self) -> ConfigSpace | None:
        if self.space is None or isinstance(self.space, ConfigSpace):
            return self.space
        return ConfigSpace(dict(self.space))

    def bind(self, args: tuple[Any, ...]) -> BoundTriton:
        """The kernel bound to one case's inputs (what ``helion.Kernel.bind`` is to Helion)."""
        return BoundTriton(self, tuple(args))

    def autotune_configs(self) -> list[TritonConfig]:
        """The ``@triton.autotune`` config list, in order (empty for a plain ``@triton.jit``)."""
        if not is_autotuned(self.kernel):
            return []
        return [TritonConfig.of(c) for c in self.kernel.configs]

    def launch_parameters(self) -> list[str]:
        """The launcher's input parameters (after ``kernel``): what ``make_inputs`` supplies."""
        params = list(inspect.signature(self.launch).parameters.values())
        return [p.name for p in params[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@dataclass(frozen=True)
class _BoundSpace:
    """``config_spec`` of a bound plain Triton kernel: its DEFAULT and its sampler."""

    kernel: TritonKernel
    inputs: tuple[Any, ...]

    def default_config(self) -> TritonConfig:
        """What ``DEFAULT`` stands for on these inputs.

        Raises:
            SpecError: the kernel declares no ``default`` (and is not autotuned).
        """
        if self.kernel.default is not None:
            return TritonConfig.of(self.kernel.default(*self.inputs))
        tuned = self.kernel.autotune_configs()
        if tuned:
            return tuned[0]
        raise SpecError(f"{self.kernel.name}: DEFAULT needs TritonKernel(default=...)")

    def kcheck_sample(self, count: int, seed: int) -> list[Any]:
        """``count`` sampled configs under ``seed`` (checker.sweep.sample_configs calls this)."""
        space = self.kernel.config_space
        if space is None:
            return [SpecError(f"{self.kernel.name} declares no config space")] * count
        return space.sample(self.inputs, count, seed)


@dataclass(frozen=True, eq=False)
class BoundTriton:
    """A plain Triton kernel bound to one case's inputs (Helion's ``BoundKernel`` for the
    checker): ``to_triton_code`` gives the host module, ``golden_code`` the normalized TTIR."""

    kernel: TritonKernel
    inputs: tuple[Any, ...]

    @property
    def config_spec(self) -> _BoundSpace:
        return _BoundSpace(self.kernel, self.inputs)

    def to_triton_code(self, config: Any) -> str:
        """The host module of this kernel under ``config`` (checker/triton_codegen.py).

        Raises:
            SpecError: ``config`` is not a plain Triton config.
        """
        from checker import triton_codegen

        return triton_codegen.host_module(self.kernel, TritonConfig.of(config))

    def golden_code(self, code: str) -> str:
        """The golden text of ``code`` (a host module from :meth:`to_triton_code`): the kernel's
        TTIR for the run's target, normalized (checker/triton_codegen.py)."""
        from checker import triton_codegen

        return triton_codegen.golden_ttir(code, self.kernel.name, self.inputs)


@dataclass(frozen=True, eq=False)
class TritonSpec(KernelSpec):
    """A :class:`~checker.spec.KernelSpec` whose ``kernel`` is a :class:`TritonKernel`.

    Every field means what it means for a Helion kernel (docs/kernel-spec.md), except:

    * ``configs``: named ``triton.Config`` objects (or ``DEFAULT``: ``TritonKernel.default``).
      For an ``@triton.autotune`` kernel it may be left out: its config list becomes
      ``tune0``, ``tune1``... in list order (named configs given as well come first).
    * parameter names (``mutates``, messages) are the launcher's input parameters.
    * ``sample_configs`` is False when the kernel declares no ``space``.

    Raises (from ``validate``):
        SpecError: the kernel is not a TritonKernel, the kernel or launcher is not module-level,
            a config is not a ``triton.Config``, or a config's keyword arguments are not accepted
            by the launcher (``@triton.jit``) or the kernel (``@triton.autotune``).
    """

    configs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, TritonKernel):
            return  # validate() says so, with the spec's name
        configs: dict[str, Any] = {}
        for cname, config in self.configs.items():
            configs[cname] = config if isinstance(config, DefaultConfig) else _lenient(config)
        for i, config in enumerate(self.kernel.autotune_configs()):
            configs.setdefault(f"tune{i}", config)
        object.__setattr__(self, "configs", configs)
        if self.kernel.space is None:
            object.__setattr__(self, "sample_configs", False)

    def validate(self) -> None:
        where = f"kernel spec {self.name!r}"
        if not isinstance(self.kernel, TritonKernel):
            raise SpecError(f"{where}: kernel must be a TritonKernel, got {type(self.kernel).__name__}")
        for cname, config in self.configs.items():
            if isinstance(config, SpecError):
                raise SpecError(f"{where}: config {cname!r}: {config}")
            if not isinstance(config, (TritonConfig, DefaultConfig)):
                raise SpecError(
                    f"{where}: config {cname!r} must be a triton.Config or DEFAULT, got {config!r}"
                )
        try:
            _module_level(self.kernel.kernel, "kernel")
            _module_level(self.kernel.launch, "launcher")
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if any(isinstance(c, DefaultConfig) for c in self.configs.values()) and (
            self.kernel.default is None and not is_autotuned(self.kernel.kernel)
        ):
            raise SpecError(f"{where}: a DEFAULT config needs TritonKernel(default=...)")
        space = self.kernel.space
        if space is not None and not isinstance(space, (ConfigSpace, Mapping)):
            raise SpecError(f"{where}: space must be a ConfigSpace or a mapping, got {space!r}")
        accepted = self._accepted_kwargs()
        knobs = [
            *(k for c in self.configs.values() if isinstance(c, TritonConfig) for k in c.kwargs_dict),
            *(k for k in (self.kernel.config_space.knobs if self.kernel.config_space else {})),
        ]
        for knob in knobs:
            if knob not in LAUNCH_OPTIONS and accepted is not None and knob not in accepted:
                who = "kernel" if is_autotuned(self.kernel.kernel) else "launcher"
                raise SpecError(
                    f"{where}: config knob {knob!r} is not a parameter of the {who} {sorted(accepted)}"
                )
        super().validate()

    def _accepted_kwargs(self) -> set[str] | None:
        """Keyword arguments a config may set: the kernel's parameters (autotuned: the checker
        passes them to the kernel) or the launcher's keyword parameters; None: any (``**kw``)."""
        if is_autotuned(self.kernel.kernel):
            return set(inspect.signature(python_function(self.kernel.kernel)).parameters)
        params = inspect.signature(self.kernel.launch).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

    def parameter_names(self) -> list[str]:
        """The launcher's input parameters, in order (``make_inputs`` supplies them so)."""
        if not isinstance(self.kernel, TritonKernel):
            return []
        return self.kernel.launch_parameters()


def _lenient(config: Any) -> Any:
    """A TritonConfig, or the SpecError saying why not (raised by ``validate`` with the spec's
    name: a spec module must import even when a config is wrong, so the run names it)."""
    try:
        return TritonConfig.of(config)
    except SpecError as exc:
        return exc


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


def refs(kernel: TritonKernel) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(module, attribute, file) of the kernel object and of the launcher, as the host module
    names them."""
    k_module, k_name = _module_level(kernel.kernel, "kernel")
    l_module, l_name = _module_level(kernel.launch, "launcher")
    # The kernel object in its module: the Autotuner when autotuned (its configs), else the JIT
    # function; both are found under the Python function's name.
    return (k_module, k_name, _file_of(k_module)), (l_module, l_name, _file_of(l_module))


def _file_of(module: str) -> str:
    mod = sys.modules.get(module)
    return os.path.abspath(getattr(mod, "__file__", "") or "")


__all__ = [
    "LAUNCH_OPTIONS",
    "BoundTriton",
    "ConfigSpace",
    "TritonConfig",
    "TritonKernel",
    "TritonSpec",
    "host_launch",
    "is_autotuned",
    "jit_function",
]
