"""Plain Triton kernels under the same spec API as Helion kernels.

Most kernel libraries (Liger-Kernel, FlagGems, the Triton kernels of vLLM and SGLang) write
Triton directly. A :class:`TritonSpec` wraps such a kernel: a ``@triton.jit`` function plus a
*launcher* (a Python function that allocates outputs, computes the grid and launches the kernel
with the case's config). The kernel may be wrapped (``@triton.heuristics``, ``@triton.autotune``,
their subclasses, a library's own wrapper; checker.triton_launch.unwrap): an autotune config
list is a config space whose configs are named ``autotune0``, ``autotune1``... by list index
(each case runs exactly one config, no autotuning)::

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
what it asks of a Helion kernel (``bind``, ``to_triton_code``, ``config_spec``,
``compile_config`` for ``--benchmark``), so the compile
stage, the interpreter, numerics, records, reports, triage and repro need no second path. The
"generated code" of a case is a small host module (checker/triton_codegen.py) whose host
function calls the launcher with the config (checker/triton_launch.py: the config of one launch
and the launch itself); its golden file is the kernel's normalized TTIR (checker/triton_ttir.py).
docs/kernel-spec.md#plain-triton-kernels has the full description.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.spec import DefaultConfig, KernelSpec, SpecError
from checker.triton_codegen import host_module
from checker.triton_launch import (
    LAUNCH_OPTIONS,
    SpecHome,
    TritonConfig,
    host_launch,
    is_autotuned,
    python_function,
    refs,
    unwrap,
)

#: Redraws of one sampled config before the draw is given up as ``invalid-config``.
MAX_REDRAWS = 64


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


@dataclass(frozen=True, eq=False)
class TritonKernel:
    """A plain Triton kernel and how to launch it; the ``kernel`` of a :class:`TritonSpec`.

    Attributes:
        kernel: a ``@triton.jit`` function, or an object wrapping one: ``@triton.heuristics``
            (applied to each launch), ``@triton.autotune`` (its ``configs`` are the configs the
            sweep picks from; nothing is autotuned), any subclass of either, stacked in any
            order, or a library's thin wrapper holding the kernel in ``.fn``. It runs as the
            spec holds it, in every process.
        launch: ``launch(kernel, *inputs, **kwargs)``: allocates the outputs, launches
            ``kernel[grid](...)`` once and returns the outputs (a tensor, a tuple, or None for a
            kernel that only writes ``mutates`` arguments). ``inputs`` are what ``make_inputs``
            returned (on the device). For a ``@triton.jit`` kernel ``kwargs`` are the config's
            keyword arguments (``BLOCK_SIZE=...``), which the launcher passes on and usually
            computes the grid from; for an autotuned kernel the checker adds them to the launch
            itself, as Triton's autotuner does, and the launcher gets none. ``grid`` may be a
            tuple or a function of the launch's meta-parameters (``lambda meta: ...``). The
            config's ``num_warps``/``num_stages`` are always added by the checker.
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
    #: Set by the checker when a spec module declares the spec (TritonSpec.declared_in).
    home: SpecHome | None = None

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
        """The config list of the kernel's (outermost) autotuner, in order; empty without one.

        Raises:
            SpecError: the kernel is no Triton kernel, or a config cannot be reproduced
                (TritonConfig.of).
        """
        tuner = unwrap(self.kernel).autotuner
        return [] if tuner is None else [TritonConfig.of(c) for c in tuner.configs]

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
    checker): ``to_triton_code`` gives the host module, ``config_spec`` the DEFAULT config and
    the sampler. (Its golden text, the normalized TTIR, is made by checker/triton_ttir.py.)"""

    kernel: TritonKernel
    inputs: tuple[Any, ...]

    @property
    def config_spec(self) -> _BoundSpace:
        return _BoundSpace(self.kernel, self.inputs)

    def to_triton_code(self, config: Any) -> str:
        """The host module of this kernel under ``config`` (checker/triton_codegen.py).

        Raises:
            SpecError: ``config`` is not a plain Triton config, or (a spec built outside a spec
                module) the kernel or launcher is not what its module holds under its name.
        """
        return host_module(self.kernel, TritonConfig.of(config))

    def compile_config(self, config: Any, allow_print: bool = False) -> Callable[..., Any]:
        """``fn(*inputs)``: the spec's launcher under ``config`` (what Helion's
        ``BoundKernel.compile_config`` is to ``--benchmark``, checker/perf/bench.py); Triton
        compiles at the first call. ``allow_print`` is Helion's and has no meaning here.

        Raises:
            SpecError: ``config`` is not a plain Triton config; see also
                checker.triton_launch.refs.
        """
        kernel_ref, launch_ref = refs(self.kernel.kernel, self.kernel.launch, self.kernel.home)
        flat = TritonConfig.of(config).config
        return functools.partial(_run_host, kernel_ref, launch_ref, flat)


@dataclass(frozen=True, eq=False)
class TritonSpec(KernelSpec):
    """A :class:`~checker.spec.KernelSpec` whose ``kernel`` is a :class:`TritonKernel`.

    Every field means what it means for a Helion kernel (docs/kernel-spec.md), except:

    * ``configs``: named ``triton.Config`` objects (or ``DEFAULT``: ``TritonKernel.default``).
    * ``autotune_named``: which configs of the kernel's autotune list are named configs too,
      ``autotuneK`` for list index K (after ``configs``): a sequence of indices, or a predicate
      ``fn(TritonConfig) -> bool``; None (the default): the first config. ``--configs N`` draws N more from
      the rest of the list (checker.triton_spec.draw_autotune) unless the kernel declares a
      ``space`` (then ``cfgK`` are drawn from the space) or ``sample_configs`` is False.
    * parameter names (``mutates``, messages) are the launcher's input parameters.

    Raises (from ``validate``):
        SpecError: the kernel is not a TritonKernel or wraps no ``@triton.jit`` function, a
            config is not a ``triton.Config``, an autotune index is out of range, a config's
            keyword arguments are not accepted by the launcher (or, autotuned, by the kernel),
            or a config sets what the kernel's heuristics compute.
    """

    configs: Mapping[str, Any] = field(default_factory=dict)
    autotune_named: Sequence[int] | Callable[[TritonConfig], bool] | None = None
    #: The autotune list, each entry a TritonConfig or the SpecError saying why it cannot be
    #: reproduced (raised for the cases that pick it, as ``invalid-config``).
    autotune_list: tuple[Any, ...] = field(init=False, default=(), repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, TritonKernel):
            return  # validate() says so, with the spec's name
        configs: dict[str, Any] = {}
        for cname, config in self.configs.items():
            configs[cname] = config if isinstance(config, DefaultConfig) else _lenient(config)
        try:
            tuner = unwrap(self.kernel.kernel).autotuner
        except SpecError:
            tuner = None  # validate() says so, with the spec's name
        listed = tuple(_lenient(c) for c in (tuner.configs if tuner is not None else ()))
        object.__setattr__(self, "autotune_list", listed)
        for i in self._named_indices():
            configs.setdefault(autotune_name(i), listed[i])
        object.__setattr__(self, "configs", configs)

    def _named_indices(self) -> list[int]:
        listed = self.autotune_list
        if self.autotune_named is None:
            return [0] if listed else []
        if callable(self.autotune_named):
            pick = self.autotune_named
            return [i for i, c in enumerate(listed) if isinstance(c, TritonConfig) and pick(c)]
        return [i for i in self.autotune_named if 0 <= i < len(listed)]

    def declared_in(self, module: Any) -> None:
        """Record where ``module`` (a spec module) holds this spec, so that every process runs
        the kernel object the spec holds (checker.triton_launch.refs)."""
        if isinstance(self.kernel, TritonKernel):
            home = SpecHome(module.__name__, _file(module), self.name)
            object.__setattr__(self, "kernel", dataclasses.replace(self.kernel, home=home))

    def named_config(self, name: str) -> Any:
        """The config called ``name``: a named one, or ``autotuneK`` of the autotune list.

        Raises:
            KeyError: no such config. SpecError: the autotune config cannot be reproduced.
        """
        if name in self.configs:
            return self.configs[name]
        index = autotune_index(name)
        if index is None or index >= len(self.autotune_list):
            raise KeyError(name)
        config = self.autotune_list[index]
        if isinstance(config, SpecError):
            raise config
        return config

    def drawn_configs(self, count: int, seed: int) -> list[str] | None:
        """Without a ``space``: ``count`` configs of the autotune list not named already, drawn
        under ``seed`` (:func:`draw_autotune`); with one, None (``cfgK`` from the space)."""
        if self.kernel.space is not None:
            return None
        named = set(self._named_indices())
        return [autotune_name(i) for i in draw_autotune(len(self.autotune_list), named, count, seed)]

    def validate(self) -> None:
        where = f"kernel spec {self.name!r}"
        if not isinstance(self.kernel, TritonKernel):
            raise SpecError(f"{where}: kernel must be a TritonKernel, got {type(self.kernel).__name__}")
        try:
            layers = unwrap(self.kernel.kernel)
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if self.autotune_named is not None and not callable(self.autotune_named):
            bad = [i for i in self.autotune_named if not 0 <= i < len(self.autotune_list)]
            if bad:
                raise SpecError(
                    f"{where}: autotune_named {bad} out of range: the kernel's autotune list has "
                    f"{len(self.autotune_list)} configs"
                )
        for cname, config in self.configs.items():
            if isinstance(config, SpecError):
                raise SpecError(f"{where}: config {cname!r}: {config}")
            if not isinstance(config, (TritonConfig, DefaultConfig)):
                raise SpecError(
                    f"{where}: config {cname!r} must be a triton.Config or DEFAULT, got {config!r}"
                )
        if any(isinstance(c, DefaultConfig) for c in self.configs.values()) and (
            self.kernel.default is None and not self.autotune_list
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
        computed = layers.computed()
        for knob in knobs:
            if knob in computed and knob not in LAUNCH_OPTIONS:
                raise SpecError(
                    f"{where}: config knob {knob!r} is computed by the kernel's @triton.heuristics "
                    "(its value would replace the config's); leave it out of the configs and space"
                )
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


#: Name prefix of the configs of an autotune list: ``autotune7`` is list index 7.
AUTOTUNE_PREFIX = "autotune"


def autotune_name(index: int) -> str:
    """The config name of autotune list index ``index``."""
    return f"{AUTOTUNE_PREFIX}{index}"


def autotune_index(name: str) -> int | None:
    """K for ``autotuneK``, None for any other config name."""
    tail = name[len(AUTOTUNE_PREFIX) :]
    return int(tail) if name.startswith(AUTOTUNE_PREFIX) and tail.isdigit() else None


def draw_autotune(size: int, named: set[int], count: int, seed: int) -> list[int]:
    """``count`` indices of an autotune list of ``size`` configs, none in ``named``: a prefix of
    one seeded shuffle, so the K-th draw does not depend on ``count`` (as ``cfgK``)."""
    order = list(range(size))
    random.Random(seed).shuffle(order)
    return [i for i in order if i not in named][:count]


def _file(module: Any) -> str:
    return os.path.abspath(getattr(module, "__file__", "") or "")


def _run_host(kernel_ref: Any, launch_ref: Any, config: dict[str, Any], *args: Any) -> Any:
    return host_launch(kernel_ref, launch_ref, config, args)


def _lenient(config: Any) -> Any:
    """A TritonConfig, or the SpecError saying why not (raised by ``validate`` with the spec's
    name: a spec module must import even when a config is wrong, so the run names it)."""
    try:
        return TritonConfig.of(config)
    except SpecError as exc:
        return exc


__all__ = [
    "AUTOTUNE_PREFIX",
    "BoundTriton",
    "ConfigSpace",
    "TritonKernel",
    "TritonSpec",
]
