"""Run options: one table, from which every parser and command line of them is generated.

:data:`OPTIONS` lists each option of a sweep once: its name, type, default, help and, for a
closed choice, its enum. From it come the pytest options (:func:`add_pytest_options`, the
``kcheck`` group of ``pytest --help``), ``kcheck run``'s arguments (:func:`add_cli_arguments`)
and what ``kcheck run`` passes on to pytest (:func:`pytest_args`), and the arguments of a
record's repro command (:func:`command_args`). The options a case is re-run with are stored on
its record (``Record.options``, by option name: docs/records.md), and readers take them from
there (:func:`of_record`), never by parsing a shell string. Adding an option is one row here
(docs/architecture.md#adding-a-run-option).

Imports only the standard library and ``checker.targets`` (a bottom-floor module): the plugin
and the ``kcheck`` command import this module before anything runs.
"""

from __future__ import annotations

import argparse
import enum
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from checker.choices import CompilePolicy, Device, Isolate, ShapeSet
from checker.targets import DEFAULT_TARGET, TARGETS

#: Default CPU seconds of the GPU host a cross-compile may use (--compile-timeout; checker.hostspeed
#: scales it to the host).
DEFAULT_COMPILE_TIMEOUT_S = 60.0
#: Default seconds one case may take in its worker with --isolate (--run-timeout): codegen,
#: the compile (itself capped by --compile-timeout), the reference and the run.
DEFAULT_RUN_TIMEOUT_S = 300.0
#: Default seconds the --benchmark process may take in all (--benchmark-timeout).
DEFAULT_BENCHMARK_TIMEOUT_S = 1800.0
#: Most xdist workers ``-n auto`` starts per GPU by default (--workers-per-gpu). Compiling is CPU
#: work, so a GPU keeps one worker per core busy: the H100 and H200 hosts have 16 cores per GPU,
#: and the bundled suite ran there with 16 workers (cold 148 s). Beyond that every worker still
#: holds a CUDA context (a few hundred MB) and its cached inputs on the shared GPU, and more cases
#: run out of memory beside the others and are retried alone, which stops every other case on
#: that GPU (checker.exec_worker); the verdicts stay the same, the run gets slower.
MAX_WORKERS_PER_GPU = 16


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask: a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def case_threads(workers: int, cores: int | None = None) -> int:
    """Intra-op threads for torch in one case worker: the cores (default :func:`usable_cores`)
    shared out among the run's ``workers`` (xdist workers, each with one case worker), at least
    1. torch's default is every core in every process: 16 case workers on a 16-core GPU host
    each ran 16 threads for their CPU work (inputs drawn from a seeded CPU generator, CPU
    references), and the warm pass of the bundled suite spent twice the cold pass's summed
    seconds preparing inputs (docs/benchmarks.md, 2026-12-07)."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


class Cli(enum.Enum):
    """How an option appears among ``kcheck run``'s arguments."""

    OPTION = "option"
    #: A positional argument (``kcheck run PATH...``), passed on to pytest as the option.
    POSITIONAL = "positional"


class Rerun(enum.Enum):
    """Whether a record's repro command carries the run's value of an option."""

    #: Always, even at its default (the seed and the number of sampled configs name the case's
    #: config, so a reader of the command sees them).
    ALWAYS = "always"
    #: When it differs from the default.
    CHANGED = "changed"
    #: Never: it does not change what one case does (shapes, shards, caches), or the repro
    #: command places it itself (its own reports directory).
    NEVER = "never"


@dataclass(frozen=True)
class RunOption:
    """One run option.

    Attributes:
        name: the long option without dashes, e.g. ``sweep-seed``; its values are keyed by
            :attr:`dest` (``sweep_seed``) everywhere.
        type: ``int``, ``float``, ``str``, ``bool`` (a flag, default False) or a ``StrEnum``
            (a closed choice; its values are the choices).
        default: the value when the option is not given (an enum member for an enum option).
        help: one line, plain text (no markup), without the default: the parsers add
            ``(default: ...)`` from :attr:`default_text` or :attr:`default`.
        default_text: how the default reads where the value alone would not say it (a None
            that means "decided later").
        metavar: the value's placeholder in help.
        choices: the allowed values of a ``str`` option whose closed set has its home elsewhere
            (``--target``: ``targets.TARGETS``).
        repeatable: given several times, the values form a list (default ``[]``).
        path: a path: ``kcheck run`` passes it on as one token (``--opt=PATH``), since pytest
            finds its rootdir before plugin options are known and would take a separate
            existing path for a test path.
        cli: how ``kcheck run`` takes it.
        rerun: whether a repro command carries it.
        at_least: the smallest allowed value, if any.
        above: a bound the value must exceed, if any.
        declared_by: the pytest plugin module that declares it in pytest
            (:func:`add_pytest_options` with :func:`declared_by`): a plugin that pytest may load
            alone (``-p checker.gpus``) declares its own options.
    """

    name: str
    type: type
    default: Any
    help: str
    default_text: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    repeatable: bool = False
    path: bool = False
    cli: Cli = Cli.OPTION
    rerun: Rerun = Rerun.NEVER
    at_least: float | None = None
    above: float | None = None
    declared_by: str = "checker.plugin"

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def is_flag(self) -> bool:
        return self.type is bool

    @property
    def allowed(self) -> tuple[str, ...] | None:
        """The closed set of values as strings, or None for an open one."""
        if isinstance(self.type, type) and issubclass(self.type, enum.Enum):
            return tuple(str(m.value) for m in self.type)
        return self.choices

    def help_text(self) -> str:
        """:attr:`help` with its default, the same in ``pytest --help`` and ``kcheck run
        --help`` (``%`` escaped for argparse)."""
        shown = self.default_text
        if shown is None and not self.is_flag and self.default is not None and self.default != []:
            shown = _token(self.default)
        text = self.help if shown is None else f"{self.help} (default: {shown})"
        return text.replace("%", "%%")

    def convert(self, value: object) -> Any:
        """``value`` (a JSON value, or the string a command line gave) as this option's type.

        Raises:
            ValueError: not of the option's type, not one of its choices, or out of its bounds;
                the message names the option.
        """
        if self.repeatable:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{self.flag}: {_shown(value)} is not a list of strings")
            return list(value)
        if value is None:
            if self.default is None:
                return None
            raise ValueError(f"{self.flag}: null is not allowed")
        if self.is_flag:
            if not isinstance(value, bool):
                raise ValueError(f"{self.flag}: {_shown(value)} is not true or false")
            return value
        try:
            converted = self._typed(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.flag}: {_shown(value)} is not {self._kind()}") from None
        bad = self.problem(converted)
        if bad:
            raise ValueError(bad)
        return converted

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of bounds (the usage error's text), or None."""
        if value is None or self.is_flag or self.repeatable:
            return None
        if self.at_least is not None and value < self.at_least:
            return f"{self.flag} must be >= {self.at_least:g}, got {_token(value)}"
        if self.above is not None and value <= self.above:
            return f"{self.flag} must be > {self.above:g}, got {_token(value)}"
        return None

    def _typed(self, value: object) -> Any:
        if isinstance(value, bool):
            raise TypeError("a boolean")
        if self.type is int:
            if isinstance(value, float):
                raise TypeError("a float")
            return int(value)  # type: ignore[call-overload]
        if self.type is float:
            return float(value)  # type: ignore[arg-type]
        if not isinstance(value, str):
            raise TypeError("not a string")
        allowed = self.allowed
        if allowed is not None and value not in allowed:
            raise ValueError(value)
        return self.type(value)

    def _kind(self) -> str:
        allowed = self.allowed
        if allowed is not None:
            return f"one of {', '.join(allowed)}"
        return {int: "an integer", float: "a number"}.get(self.type, "a string")


def _token(value: Any) -> str:
    """An option value as a command line and help write it (``60`` for 60.0)."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return list(value) if isinstance(value, list) else value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


#: Every run option, in the order help lists them and command lines carry them (a repro
#: command's arguments keep the order they always had).
OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        "kernels",
        str,
        [],
        "kernel module files or directories to check, from any working directory; with pytest, "
        "repeatable, and checked beside positional arguments that do not already cover them",
        default_text="kernels/; plain pytest reads the kcheck_kernel_paths ini option first",
        metavar="PATH",
        repeatable=True,
        path=True,
        cli=Cli.POSITIONAL,
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "sweep-seed",
        int,
        0,
        "seed of sampled configs and inputs",
        metavar="S",
        rerun=Rerun.ALWAYS,
    ),
    RunOption(
        "configs",
        int,
        8,
        "configs sampled from Helion's config space per kernel/shape/dtype",
        metavar="N",
        rerun=Rerun.ALWAYS,
        at_least=0,
    ),
    RunOption(
        "device",
        Device,
        Device.AUTO,
        "where cases run: cuda (native), cpu (the interpreter and cross-compiles) or auto (cuda "
        "when a GPU is present)",
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "target",
        str,
        None,
        "GPU target to generate and compile for on a CPU-only machine; on a GPU the local device "
        "is the target, and naming another one is an error",
        default_text=DEFAULT_TARGET,
        choices=tuple(sorted(TARGETS)),
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "isolate",
        Isolate,
        Isolate.AUTO,
        "run each case in a supervised worker process that is killed and replaced after a crash, "
        "a run timeout or a sticky CUDA error: auto and on, or off (cases run in the pytest "
        "process: nothing can stop a case stuck in native code, and a crash ends the run)",
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "run-timeout",
        float,
        DEFAULT_RUN_TIMEOUT_S,
        "with isolation: seconds one case may take before its worker is killed (run-timeout); "
        "wall seconds on a GPU, CPU seconds of the worker under the interpreter (a loaded host "
        "does not time cases out), with wall time a backstop at 10x that",
        metavar="S",
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "compile",
        CompilePolicy,
        CompilePolicy.AUTO,
        "compile cases for the target in supervised worker processes first: check (frontend to "
        "TTGIR and shared memory: numel overflow, shared memory over the limit, MLIR pass "
        "failures), full (to a cubin with ptxas: also registers, spills, ptxas crashes, compile "
        "timeouts), full-shapes (full for the cases the device does not run, on CPU the full "
        "shapes; check for the rest), off; auto is full on a GPU and check on CPU (small shapes "
        "too, before the interpreter)",
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "compile-timeout",
        float,
        DEFAULT_COMPILE_TIMEOUT_S,
        "CPU seconds of the GPU host one compile may use before its worker's process group is "
        "killed (compile-timeout), scaled by this host's measured speed factor (checker.hostspeed; "
        "$KCHECK_HOST_SPEED sets it); wall time is a backstop at 10x that",
        metavar="S",
        rerun=Rerun.CHANGED,
        above=0,
    ),
    RunOption(
        "golden-dir",
        str,
        None,
        "directory of golden files of the generated code",
        default_text="the kcheck_golden_dir ini option; for a --kernels suite outside the rootdir, "
        "golden/ inside its directory",
        metavar="DIR",
        path=True,
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "no-cache",
        bool,
        False,
        "compile every case: neither read nor write the compile cache",
        rerun=Rerun.CHANGED,
    ),
    RunOption(
        "reports-dir",
        str,
        "reports",
        "directory of the runs' records: each run writes runs/<id>/ (results.jsonl, junit.xml); "
        "latest and results.jsonl there name the latest full run",
        metavar="DIR",
        path=True,
    ),
    RunOption(
        "keep-runs",
        int,
        10,
        "run directories kept under the reports directory; the oldest go first, never the latest full run",
        metavar="N",
        at_least=1,
    ),
    RunOption("shapes", ShapeSet, ShapeSet.ALL, "shape set: small (interpreter-sized), full, or all"),
    RunOption(
        "cache-dir",
        str,
        None,
        "directory of the compile and stage caches (compile verdicts, generated code, sampled "
        "configs, interpreter verdicts), reused by later runs (README: Compile and stage cache)",
        default_text="$XDG_CACHE_HOME/kcheck, else ~/.cache/kcheck",
        metavar="DIR",
        path=True,
    ),
    RunOption(
        "cache-max-mb",
        float,
        512.0,
        "bound of the cache directory in MiB; least recently used entries are removed at the end of the run",
        metavar="MB",
        above=0,
    ),
    RunOption(
        "update-baseline",
        bool,
        False,
        "rewrite the known-failures file (the kcheck_baseline ini option) from this run: the cases "
        "it checked get their current failure or go, entries of cases it did not run are kept",
    ),
    RunOption(
        "shard",
        str,
        None,
        "run only shard I of N (1-based) of the collected cases; the N shards together run every "
        "case exactly once",
        metavar="I/N",
    ),
    RunOption(
        "shard-durations",
        str,
        [],
        "results.jsonl of an earlier run (or a directory holding such files) whose case "
        "durations balance the shards; repeatable",
        metavar="PATH",
        repeatable=True,
        path=True,
        declared_by="checker.shard",
    ),
    RunOption(
        "workers-per-gpu",
        int,
        None,
        "on a GPU host, -n auto starts K xdist workers per visible GPU; each worker sees one GPU "
        "through CUDA_VISIBLE_DEVICES",
        default_text=f"the cores divided by the GPUs, at most {MAX_WORKERS_PER_GPU}",
        metavar="K",
        declared_by="checker.gpus",
    ),
    RunOption(
        "update-golden",
        bool,
        False,
        "write golden files of the generated code (atomically) instead of failing on "
        "differences; prints created/updated/unchanged/unused counts",
        declared_by="checker.golden_plugin",
    ),
    RunOption(
        "prune",
        bool,
        False,
        "with --update-golden: delete unused golden files",
        declared_by="checker.golden_plugin",
    ),
    RunOption(
        "golden-warn-unused",
        bool,
        False,
        "unused golden files are a warning instead of failing the run",
        declared_by="checker.golden_plugin",
    ),
    RunOption(
        "benchmark",
        bool,
        False,
        "GPU only: after the run, time each passing named config, the best passing sampled "
        "config and the PyTorch reference (eager, torch.compile) per kernel/shape/dtype with "
        "triton.testing.do_bench; timing records go to results.jsonl (docs/perf.md)",
        declared_by="checker.perf_plugin",
    ),
    RunOption(
        "benchmark-timeout",
        float,
        None,
        "seconds the benchmark process may take in all; what it timed is kept",
        default_text=f"{DEFAULT_BENCHMARK_TIMEOUT_S:g}",
        metavar="S",
        declared_by="checker.perf_plugin",
    ),
    RunOption(
        "benchmark-no-compile",
        bool,
        False,
        "do not time the reference under torch.compile (saves its compile time)",
        declared_by="checker.perf_plugin",
    ),
)


def table() -> tuple[RunOption, ...]:
    """The run options in force: :data:`OPTIONS`, read at each call (a test may extend it)."""
    return OPTIONS


def option(dest: str) -> RunOption:
    """The option whose values are keyed ``dest``.

    Raises:
        KeyError: no such option.
    """
    for opt in table():
        if opt.dest == dest:
            return opt
    raise KeyError(dest)


class Values(Mapping[str, Any]):
    """The value of every run option, keyed by :attr:`RunOption.dest`, each of its option's
    type (enum members for closed choices). Immutable; :meth:`replace` makes a changed copy."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, dest: str) -> Any:
        return self._data[dest]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Values({self._data!r})"

    def replace(self, **changes: Any) -> Values:
        """A copy with ``changes`` (by dest), each converted to its option's type.

        Raises:
            KeyError: a change names no option. ValueError: a value of the wrong type.
        """
        data = dict(self._data)
        for dest, value in changes.items():
            data[dest] = option(dest).convert(value)
        return Values(data)

    def to_json(self) -> dict[str, Any]:
        """The values as JSON types (enum members as their strings, lists copied)."""
        return {
            k: (v.value if isinstance(v, enum.Enum) else list(v) if isinstance(v, list) else v)
            for k, v in self._data.items()
        }


def defaults(options: Sequence[RunOption] | None = None) -> Values:
    """Every option at its default."""
    return Values({o.dest: (list(o.default) if o.repeatable else o.default) for o in _rows(options)})


def values_from(namespace: object, options: Sequence[RunOption] | None = None) -> Values:
    """The values a parser left on ``namespace`` (argparse's, or pytest's ``config.option``),
    converted (a closed choice is parsed as its string: pytest-xdist sends options to its
    workers, and only plain types travel).

    Raises:
        ValueError: a value is out of its option's bounds (the usage error's text).
    """
    return Values({o.dest: o.convert(getattr(namespace, o.dest)) for o in _rows(options)})


def from_json(data: object, options: Sequence[RunOption] | None = None) -> Values:
    """The values stored as ``data`` (a record's ``options``). An option missing there has its
    default; a key no option has (written by a newer kcheck) is ignored.

    Raises:
        ValueError: ``data`` is not an object, or a value is not of its option's type.
    """
    if not isinstance(data, dict):
        raise ValueError(f"stored options are {_shown(data)}, not an object")
    rows = _rows(options)
    return Values({o.dest: o.convert(data[o.dest]) if o.dest in data else _default(o) for o in rows})


def from_command(command: str, options: Sequence[RunOption] | None = None) -> Values:
    """The options a command line (a repro command written before records stored their
    options) passes, read with the parser the table generates; other arguments are ignored.

    Raises:
        ValueError: the command cannot be split, or an option's value is not of its type.
    """
    rows = _rows(options)
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    for o in rows:
        if o.is_flag:
            parser.add_argument(o.flag, dest=o.dest, action="store_true", default=False)
        elif o.repeatable:
            parser.add_argument(o.flag, dest=o.dest, action="append", default=[])
        else:
            parser.add_argument(o.flag, dest=o.dest, default=None)
    try:
        parsed, _ = parser.parse_known_args(shlex.split(command))
    except (ValueError, argparse.ArgumentError) as exc:
        raise ValueError(f"unreadable command: {exc}") from None
    return Values(
        {
            o.dest: _default(o) if getattr(parsed, o.dest) is None else o.convert(getattr(parsed, o.dest))
            for o in rows
        }
    )


class _Stored(Protocol):
    @property
    def options(self) -> dict[str, Any] | None: ...

    @property
    def repro(self) -> str | None: ...


def of_record(record: _Stored) -> Values | None:
    """The options that re-run ``record``'s case: its stored ``options``; for a record written
    before records stored them, the options its repro command passes; None when it has
    neither (a lost case, an ingested log line).

    Raises:
        ValueError: what is stored cannot be read (a short reason).
    """
    if record.options is not None:
        return from_json(record.options)
    if record.repro:
        return from_command(record.repro)
    return None


def declared_by(module: str) -> tuple[RunOption, ...]:
    """The options the pytest plugin ``module`` declares (:attr:`RunOption.declared_by`)."""
    return tuple(o for o in table() if o.declared_by == module)


def add_pytest_options(group: Any, options: Sequence[RunOption] | None = None) -> None:
    """Declare every option in pytest's option ``group`` (``parser.getgroup("kcheck")``)."""
    for o in _rows(options):
        group.addoption(o.flag, **_argparse_kwargs(o))


def add_cli_arguments(parser: argparse.ArgumentParser, options: Sequence[RunOption] | None = None) -> None:
    """Declare every option as an argument of ``kcheck run``'s ``parser``."""
    for o in _rows(options):
        if o.cli is Cli.POSITIONAL:
            parser.add_argument(o.dest, nargs="*", default=[], metavar=o.metavar, help=o.help_text())
        else:
            parser.add_argument(o.flag, **_argparse_kwargs(o))


def pytest_args(values: Values, options: Sequence[RunOption] | None = None) -> list[str]:
    """What ``kcheck run`` passes on to pytest for ``values``: every option that is set
    (pinned even at its default, so an ini file's ``addopts`` cannot change what ``kcheck run``
    means), a path as one token."""
    argv: list[str] = []
    for o in _rows(options):
        value = values[o.dest]
        if value is None or value is False:
            continue
        if o.is_flag:
            argv.append(o.flag)
            continue
        for item in value if o.repeatable else [value]:
            argv += [f"{o.flag}={_token(item)}"] if o.path else [o.flag, _token(item)]
    return argv


def command_args(values: Values, options: Sequence[RunOption] | None = None) -> list[str]:
    """The arguments of a repro command that re-runs a case with ``values``: the options the
    table marks :attr:`Rerun.ALWAYS`, and those marked :attr:`Rerun.CHANGED` that differ from
    their default, in table order, each value as its own token."""
    argv: list[str] = []
    for o in _rows(options):
        value = values[o.dest]
        if o.rerun is Rerun.NEVER or (o.rerun is Rerun.CHANGED and value == _default(o)):
            continue
        if o.is_flag:
            argv.append(o.flag)
            continue
        for item in value if o.repeatable else [value]:
            argv += [o.flag, _token(item)]
    return argv


def for_rerun(values: Values, options: Sequence[RunOption] | None = None) -> Values:
    """``values`` with every option a repro command does not carry (:attr:`Rerun.NEVER`) at
    its default: what a record stores is what its command passes."""
    rows = _rows(options)
    return Values({o.dest: _default(o) if o.rerun is Rerun.NEVER else values[o.dest] for o in rows})


def _rows(options: Sequence[RunOption] | None) -> Sequence[RunOption]:
    return table() if options is None else options


def _default(o: RunOption) -> Any:
    return list(o.default) if o.repeatable else o.default


def _argparse_kwargs(o: RunOption) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": o.help_text()}
    if o.is_flag:
        return {**kwargs, "action": "store_true", "default": False}
    if o.repeatable:
        kwargs.update(action="append", default=[])
    else:
        kwargs["default"] = o.default.value if isinstance(o.default, enum.Enum) else o.default
        kwargs["type"] = o.type if o.type in (int, float) else str
        kwargs["choices"] = o.allowed
    if o.metavar is not None:
        kwargs["metavar"] = o.metavar
    return kwargs
