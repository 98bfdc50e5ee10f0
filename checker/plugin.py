"""The pytest plugin (entry point ``pytest11: kcheck``): kernel modules become test items.

Each file under the ``kcheck_kernel_paths`` ini directories (default ``kernels/``) that does
not start with ``_`` is imported and its ``SPEC``/``SPECS`` expanded into one item per case,
named ``<kernel>[<shape>-<dtype>-<config>]``. Each item writes one Record; the controlling
process (not xdist workers) streams records to ``<reports-dir>/results.jsonl`` as reports arrive
and writes ``junit.xml`` and the terminal summary at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from checker import diagnostics
from checker.blame import CaseFault
from checker.golden.paths import safe_component
from checker.model import EXIT_CHECKER_ERROR, CaseId, Category, Mode, Owner, Record, new_record
from checker.pipesafe import PipeSafe
from checker.pool import COMPILE_POLICIES, DEFAULT_COMPILE_TIMEOUT_S, DEFAULT_RUN_TIMEOUT_S
from checker.spec import KernelSpec, SpecError, specs_of_module
from checker.sweep import DEFAULT_CONFIGS, SHAPE_SETS, expand
from checker.targets import DEFAULT_TARGET, TARGETS

# Sharding (--shard), GPU pinning of xdist workers, goldens and --benchmark are plugin modules of
# their own.
pytest_plugins = ["checker.shard", "checker.gpus", "checker.golden_plugin", "checker.perf_plugin"]

RECORD_KEY = "kcheck_record"
#: Outputs of an earlier run that a new run removes before its first case, so that none of
#: them describes the old run beside the new run's results (kcheck report writes summary.md,
#: verdict.json, baseline.jsonl, triage.md and the speedup table and plots; timings.jsonl is
#: ``kcheck bench``'s default output: docs/perf.md).
STALE_OUTPUTS = (
    *("results.jsonl", "junit.xml", "summary.md", "verdict.json", "baseline.jsonl", "triage.md"),
    *("speedup.md", "speedup.png", "roofline.png", "timings.jsonl"),
)


@dataclasses.dataclass
class _State:
    options: Any  # execute.RunOptions; imported lazily so `pytest --help` stays fast
    reports_dir: Path
    argv_extra: list[str]
    rootpath: Path
    is_controller: bool
    #: Kernel files and directories (resolved) whose modules are collected as kernel modules.
    kernel_dirs: list[Path]
    writer: Any = None
    records: list[Record] = dataclasses.field(default_factory=list)
    seen_nodeids: set[str] = dataclasses.field(default_factory=set)
    spec_names: dict[str, Path] = dataclasses.field(default_factory=dict)
    saved_interpret: str | None = None
    isolate: bool = False
    #: ``--collect-only``: nothing runs, so nothing is written and nothing is lost.
    collect_only: bool = False
    #: kcheck node ids this run collected (None until collection finished).
    collected: list[str] | None = None
    #: node ids that reported a second record.
    duplicates: list[str] = dataclasses.field(default_factory=list)
    #: The run's scratch directory (checker.rundir), created and removed by the controller.
    run_dir: Any = None


STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kcheck", "kernel checker")
    group.addoption(
        "--configs",
        type=int,
        default=DEFAULT_CONFIGS,
        metavar="N",
        help="configs sampled from Helion's config space per kernel/shape/dtype (default 8)",
    )
    group.addoption(
        "--sweep-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed for sampled configs and inputs (default 0)",
    )
    group.addoption(
        "--shapes",
        choices=SHAPE_SETS,
        default="all",
        help="shape set: small (interpreter-sized), full, or all (default)",
    )
    group.addoption(
        "--target",
        choices=sorted(TARGETS),
        default=None,
        help="GPU target to generate and compile for on a CPU-only machine (default sm_90); on a "
        "GPU the local device is the target, and naming another one is an error",
    )
    group.addoption(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where cases run: cuda (native), cpu (interpreter / codegen only) or auto",
    )
    group.addoption(
        "--compile",
        choices=COMPILE_POLICIES,
        default="auto",
        help="compile cases for the target in supervised worker processes first: check (frontend "
        "to TTGIR and shared memory: numel overflow, shared memory over the limit, MLIR pass "
        "failures), full (to a cubin with ptxas: also registers, spills, ptxas crashes), off; "
        "auto (default) is full on a GPU and check on CPU (small shapes too, before the interpreter)",
    )
    group.addoption(
        "--compile-timeout",
        type=float,
        default=DEFAULT_COMPILE_TIMEOUT_S,
        metavar="S",
        help="seconds one compile may take before its worker's process group is killed "
        "(compile-timeout; default 60)",
    )
    group.addoption(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="directory of the compile cache: compile verdicts by a hash of the generated code, "
        "launch signature, target, level and toolchain, reused by later runs (default "
        "$XDG_CACHE_HOME/kcheck, else ~/.cache/kcheck)",
    )
    group.addoption(
        "--no-cache",
        action="store_true",
        default=False,
        help="compile every case: neither read nor write the compile cache",
    )
    group.addoption(
        "--cache-max-mb",
        type=float,
        default=None,
        metavar="MB",
        help="bound of the compile cache; least recently used entries are removed at the end of "
        "the run (default 512)",
    )
    group.addoption(
        "--isolate",
        choices=("auto", "on", "off"),
        default="auto",
        help="run each case in a supervised worker process that is killed and replaced after a "
        "crash, a run timeout or a sticky CUDA error: auto (default) and on, or off (cases run "
        "in the pytest process: nothing can stop a case stuck in native code, and a crash ends "
        "the run)",
    )
    group.addoption(
        "--run-timeout",
        type=float,
        default=DEFAULT_RUN_TIMEOUT_S,
        metavar="S",
        help="with isolation: seconds one case may take before its worker is killed (run-timeout; "
        "default 300)",
    )
    group.addoption(
        "--reports-dir",
        default="reports",
        metavar="DIR",
        help="directory for results.jsonl and junit.xml (default reports/)",
    )
    group.addoption(
        "--kernels",
        action="append",
        default=[],
        metavar="PATH",
        help="kernel module file or directory to check (repeatable; default: the "
        "kcheck_kernel_paths ini option, else kernels/); checked from any working directory, "
        "in addition to positional arguments that do not already cover it",
    )
    parser.addini(
        "kcheck_kernel_paths",
        type="paths",
        default=[],
        help="directories whose .py files are kernel modules (default: kernels/)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kcheck: a kernel check case generated by the kcheck plugin")
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped without one")
    if not os.environ.get("TORCH_TRACE"):
        # torch's structured-trace logger logs at DEBUG for tlparse, without propagating; pytest 9
        # attaches its capture handler to such loggers too, so a failing case's report showed
        # pages of empty "DEBUG torch.__trace" lines. Only a filter on the logger keeps them out.
        logging.getLogger("torch.__trace").addFilter(_no_trace_records)
    n = config.getoption("configs")
    if n < 0:
        raise pytest.UsageError(f"--configs must be >= 0, got {n}")
    if config.getoption("compile_timeout") <= 0:
        raise pytest.UsageError(f"--compile-timeout must be > 0, got {config.getoption('compile_timeout'):g}")
    max_mb = config.getoption("cache_max_mb")
    if max_mb is not None and max_mb <= 0:
        raise pytest.UsageError(f"--cache-max-mb must be > 0, got {max_mb:g}")
    from checker import interpreter, targets
    from checker.execute import RunOptions

    device = config.getoption("device")
    local = targets.local_cuda_target() if device != "cpu" else None
    if device == "cuda" and local is None:
        raise pytest.UsageError("--device cuda: no CUDA device is available")
    named = config.getoption("target")
    if local is not None and named is not None and named != local.name:
        raise pytest.UsageError(
            f"--target {named}: on a GPU the local device ({local.name}) is the target; "
            f"cross-compile for {named} with --device cpu"
        )
    target = local or targets.get_target(named or DEFAULT_TARGET)
    global _PLUGIN_INSTALLED
    _PLUGIN_INSTALLED = config.pluginmanager.get_plugin("kcheck") is not None
    if config.getoption("kernels"):
        _collect_kernel_paths(config)
    _check_reports_dir(Path(config.getoption("reports_dir")))
    state = _State(
        options=RunOptions(
            sweep_seed=config.getoption("sweep_seed"),
            target=target,
            native=local is not None,
            n_configs=n,
            compile=config.getoption("compile"),
            compile_timeout=config.getoption("compile_timeout"),
            cache_dir=_cache_dir(config),
            run_timeout=config.getoption("run_timeout") if config.getoption("isolate") != "off" else None,
        ),
        reports_dir=Path(config.getoption("reports_dir")),
        argv_extra=_repro_args(config),
        rootpath=config.rootpath,
        is_controller=not hasattr(config, "workerinput"),
        kernel_dirs=kernel_paths(config),
        saved_interpret=os.environ.get("TRITON_INTERPRET"),
        # On CPU too: a reference stuck in C code or an os._exit() in a case must cost a worker,
        # not the run (pytest-timeout's signal never runs inside C code).
        isolate=config.getoption("isolate") != "off",
        collect_only=bool(config.option.collectonly),
    )
    if local is None:
        interpreter.enable()
        if not _xdist_controller(config):
            targets.use_target_on_cpu(target)
    config.stash[STATE] = state
    if state.is_controller:
        if not state.collect_only:
            state.run_dir = _fresh("checker.rundir").create()
        config.pluginmanager.register(_Recorder(state), "kcheck-recorder")
        _fresh("checker.progress").register(config)


def _check_reports_dir(path: Path) -> None:
    """Fail at configure, in one line, when ``--reports-dir`` cannot hold the run's outputs (a
    file, or below one): it once ended the run in 54 ``INTERNALERROR>`` lines after collection.

    Raises:
        pytest.UsageError: naming the path and what is in the way.
    """
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                what = "is a file" if parent == path else f"is below {parent}, which is a file"
                raise pytest.UsageError(f"--reports-dir {path} {what}: name a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise pytest.UsageError(f"--reports-dir {path}: {parent} is not writable")
            return


def _cache_dir(config: pytest.Config) -> str | None:
    """The compile cache's directory, absolute (workers may start elsewhere); None with
    ``--no-cache``. Resolved once by each process from the same options and environment."""
    if config.getoption("no_cache"):
        return None
    from checker.cache import store

    given = config.getoption("cache_dir")
    path = Path(given).expanduser() if given else store.default_dir()
    return str(path if path.is_absolute() else config.invocation_params.dir / path)


def _xdist_controller(config: pytest.Config) -> bool:
    """Whether this process is an xdist controller, which collects no kernel module and runs no
    case: its workers do. Patching Helion for the target imports helion (3.5 s on this 2-core
    machine, measured with cProfile), before the workers even start; they patch their own.
    pytest-xdist has set ``dist`` from ``-n`` by now (its ``pytest_cmdline_main`` runs first)."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


def _fresh(name: str) -> Any:
    """The module ``name`` as ``sys.modules`` holds it now. ``from checker import x`` may return
    an older module object (kept as an attribute of the package) after an in-process pytester run
    restored ``sys.modules``; its job classes then fail to pickle for a worker ("not the same
    object")."""
    import importlib

    return importlib.import_module(name)


def _no_trace_records(record: logging.LogRecord) -> bool:
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # After pytest's terminal reporter exists, before it writes: `| head` must not cost the run
    # its junit.xml. TerminalWriter keeps the stream it was made with in a private attribute;
    # pytest offers no public way to give it another.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    tw = getattr(reporter, "_tw", None)
    if tw is not None and not isinstance(getattr(tw, "_file", None), PipeSafe):
        tw._file = PipeSafe(tw._file)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.writer is not None:
        state.writer.close()
    _fresh("checker.exec_worker").shutdown()
    _fresh("checker.execute").shutdown()
    if state.is_controller and not state.collect_only and state.options.cache_dir is not None:
        # Once per run, by one process, after every writer of this run stopped.
        store = _fresh("checker.cache.store")
        max_mb = config.getoption("cache_max_mb") or store.DEFAULT_MAX_MB
        store.prune(state.options.cache_dir, int(max_mb * (1 << 20)))
    if state.run_dir is not None:
        # After the workers stopped: nothing writes there any more.
        _fresh("checker.rundir").remove(state.run_dir)
    if state.saved_interpret is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = state.saved_interpret


def _repro_args(config: pytest.Config) -> list[str]:
    args = [
        "--sweep-seed",
        str(config.getoption("sweep_seed")),
        "--configs",
        str(config.getoption("configs")),
    ]
    if config.getoption("device") != "auto":
        args += ["--device", config.getoption("device")]
    if config.getoption("target") is not None:
        args += ["--target", config.getoption("target")]
    if config.getoption("isolate") != "auto":
        args += ["--isolate", config.getoption("isolate")]
    if config.getoption("run_timeout") != DEFAULT_RUN_TIMEOUT_S:
        args += ["--run-timeout", f"{config.getoption('run_timeout'):g}"]
    if config.getoption("compile") != "auto":
        args += ["--compile", config.getoption("compile")]
    if config.getoption("compile_timeout") != DEFAULT_COMPILE_TIMEOUT_S:
        args += ["--compile-timeout", f"{config.getoption('compile_timeout'):g}"]
    if config.getoption("golden_dir"):
        args += ["--golden-dir", str((config.rootpath / config.getoption("golden_dir")).resolve())]
    # A repro compiles for real: a cached verdict would only repeat the record it came from.
    args.append("--no-cache")
    return args


def kernel_paths(config: pytest.Config) -> list[Path]:
    """The kernel files and directories of this run, resolved: ``--kernels``, else the
    ``kcheck_kernel_paths`` ini option, else ``<rootdir>/kernels`` (which may be missing: the
    plugin is installed for every pytest run, also in projects without kernels).

    Raises:
        pytest.UsageError: a path given by option or ini does not exist or holds no kernel
            module; the message names it.
    """
    from checker.loader import LoaderError, check_kernel_paths

    given = config.getoption("kernels")
    ini = config.getini("kcheck_kernel_paths")
    try:
        if given:
            return check_kernel_paths([Path(p) for p in given], "--kernels")
        if ini:
            return check_kernel_paths([Path(p) for p in ini], f"kcheck_kernel_paths (in {config.inipath})")
    except LoaderError as exc:
        raise pytest.UsageError(str(exc)) from None
    return [config.rootpath / "kernels"]


def _arg_path(arg: str, config: pytest.Config) -> Path:
    path = Path(arg.split("::", 1)[0])
    return (path if path.is_absolute() else config.invocation_params.dir / path).resolve()


def _collect_kernel_paths(config: pytest.Config) -> None:
    """Have pytest collect the ``--kernels`` paths: instead of its default (testpaths or the
    working directory), or besides positional arguments that neither lie inside a kernel path
    nor contain it (``pytest 'x.py::case' --kernels x.py`` runs the one case)."""
    given = [Path(p).resolve() for p in config.getoption("kernels")]
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        config.args = [str(p) for p in given]
        return
    explicit = [_arg_path(a, config) for a in config.args]
    for path in given:
        if not any(path.is_relative_to(a) or a.is_relative_to(path) for a in explicit):
            config.args.append(str(path))


def _is_kernel_file(config: pytest.Config, path: Path) -> bool:
    from checker.loader import is_kernel_file

    state = config.stash[STATE]
    if not is_kernel_file(path):
        return False
    resolved = path.resolve()
    for root in state.kernel_dirs:
        if resolved == root:
            return True
        if resolved.is_relative_to(root):
            # Helper packages and caches below a kernel directory are not kernel modules.
            inner = resolved.relative_to(root).parts[:-1]
            return not any(p.startswith((".", "_")) for p in inner)
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # A file named on the command line is collected by pytest's python plugin, which asks
    # pytest_pycollect_makemodule below; answering here too would duplicate every item.
    if parent.session.isinitpath(file_path) or not _is_kernel_file(parent.config, file_path):
        return None
    return KernelModule.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_kernel_file(parent.config, module_path):
        return KernelModule.from_parent(parent, path=module_path)
    return None


def _prestart_case_worker(config: pytest.Config) -> None:
    """Start this process's case worker before its first kernel module is imported: the worker's
    own imports (torch, triton, helion: 14-20 s on the H200 host, docs/benchmarks.md) then run
    while this process collects, instead of after it, before the first case. Not for
    ``--collect-only`` or without ``--isolate``, and only once a kernel module is collected (a
    session with none starts no worker)."""
    state = config.stash[STATE]
    if state.isolate and not state.collect_only:
        _fresh("checker.exec_worker").runner(state.options, config.getoption("run_timeout")).prestart()


class KernelModule(pytest.File):
    """A kernel module: yields one KernelCase per case, or one CollectionErrorItem."""

    def collect(self) -> list[pytest.Item]:
        from checker import loader

        state = self.config.stash[STATE]
        _prestart_case_worker(self.config)
        try:
            specs = specs_of_module(loader.load(self.path))
        except (SpecError, loader.LoaderError) as exc:
            return [CollectionErrorItem.from_parent(self, name="collection", error=f"{self.path}: {exc}")]
        except (Exception, SystemExit):
            # SystemExit: a module that calls sys.exit() at import aborted the whole session.
            tb = traceback.format_exc(limit=-8)
            return [
                CollectionErrorItem.from_parent(
                    self, name="collection", error=f"{self.path}: failed to import\n{tb}"
                )
            ]
        items: list[pytest.Item] = []
        here: set[str] = set()
        for spec in specs:
            other = state.spec_names.setdefault(spec.name, self.path)
            if other != self.path or spec.name in here:
                # Two cases under one node id would leave one record for both (one of them green).
                where = "earlier in the same module" if other == self.path else f"in {other}"
                items.append(
                    CollectionErrorItem.from_parent(
                        self,
                        name=f"{spec.name}[collection]",
                        error=f"{self.path}: kernel name {spec.name!r} is already declared {where}",
                    )
                )
                continue
            here.add(spec.name)
            n = state.options.n_configs
            for case in expand(spec, n, self.config.getoption("shapes")):
                items.append(KernelCase.from_parent(self, name=case.name, spec=spec, case=case))
            from checker.golden_plugin import golden_items

            items.extend(golden_items(self, spec))
        return items


class CaseFailed(Exception):
    """Raised by a KernelCase whose record is a failure; carries the record."""

    def __init__(self, record: Record) -> None:
        super().__init__(record.message)
        self.record = record


class KernelCase(pytest.Item):
    """One case: kernel x shape x dtype x config."""

    def __init__(self, *, spec: KernelSpec, case: CaseId, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.case = case
        self.record: Record | None = None
        self.add_marker("kcheck")

    def runtest(self) -> None:
        from checker.execute import check_case

        state = self.config.stash[STATE]
        try:
            if state.isolate:
                timeout = self.config.getoption("run_timeout")
                runner = _fresh("checker.exec_worker").runner(state.options, timeout)
                rec = runner.check(str(self.path), self.spec.name, self.case)
            else:
                with _no_process_exit():
                    rec = check_case(self.spec, self.case, state.options)
        except Exception as exc:
            # Only the checker's own code runs here (check_case records every exception of the
            # case's); an exception that reaches this frame is judged by checker.blame.
            d = diagnostics.classify(exc)
            if d.category is not Category.CHECKER_ERROR:
                raise
            from checker.execute import diagnosed_unconfigured_record

            rec = diagnosed_unconfigured_record(self.case, d, state.options, 0.0)
        self.record = dataclasses.replace(
            rec,
            nodeid=self.nodeid,
            repro=repro_command(self.path, self.name, state.argv_extra),
            worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
        )
        if self.record.category.is_skip:
            pytest.skip(f"{self.record.category.value}: {self.record.message.splitlines()[0]}")
        if self.record.category.is_failure:
            raise CaseFailed(self.record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, CaseFailed):
            return format_failure(excinfo.value.record)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class ProcessExitCalled(CaseFault):
    """A case run in the pytest process (``--isolate off``) called ``os._exit``: the process
    would have ended on the spot, with no record, no junit.xml and, for ``os._exit(0)``, exit
    status 0 (a green run with cases missing). Raised instead, the case records it (the kernel's
    or the reference's doing, never a checker-error: checker.blame.CaseFault)."""


@contextlib.contextmanager
def _no_process_exit() -> Iterator[None]:
    """While a case runs in this process, ``os._exit`` raises :class:`ProcessExitCalled`. An
    exit from C code (``exit()`` in an extension) cannot be stopped here; ``--isolate on`` (the
    default) contains that too, as a ``worker-died`` record."""
    real = os._exit

    def refuse(status: int) -> NoReturn:
        raise ProcessExitCalled(f"os._exit({status}) called while a case ran in the pytest process")

    os._exit = refuse
    try:
        yield
    finally:
        os._exit = real


class CollectionErrorItem(pytest.Item):
    """Stands for a kernel file that could not be collected, so the rest of the run goes on."""

    def __init__(self, *, error: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.error = error
        kernel = self.name.split("[", 1)[0] if "[" in self.name else self.path.stem
        self.record = new_record(
            CaseId(kernel=kernel, shape=(), dtype="", config="collection"),
            Category.COLLECTION_ERROR,
            Mode.COLLECTION,
            "-",
            message=diagnostics.sanitize(error),
            signature=diagnostics.signature(Category.COLLECTION_ERROR, error.splitlines()[-1]),
            nodeid=self.nodeid,
        )
        self.add_marker("kcheck")

    def runtest(self) -> None:
        raise CaseFailed(self.record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        return f"collection-error: {self.error}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def repro_command(file: Path, name: str, extra: list[str]) -> str:
    """One line that re-runs just the item ``name`` of kernel file ``file`` when pasted from any
    working directory: the interpreter that ran it, the file by absolute path, and the run's
    options (``extra``). When the plugin is not installed (a source tree run with
    ``-p checker.plugin``) the line also loads it and puts this checker first on PYTHONPATH."""
    file = Path(file).resolve()
    argv = [sys.executable, "-m", "pytest", f"{file}::{name}", "--kernels", str(file), *extra]
    # Its own reports directory: pasting a repro replaced a 2226-record results.jsonl with one
    # record (issue 14). Relative, so under the directory it is pasted in: a fixed path in the
    # shared temp directory could be planted as a symlink by anyone (issue 23).
    argv += ["--reports-dir", str(repro_reports_dir(name))]
    argv += ["-p", "no:xdist", "-p", "no:cacheprovider"]
    if not _PLUGIN_INSTALLED:
        source = str(Path(__file__).resolve().parents[1])
        pythonpath = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
        argv = ["env", f"PYTHONPATH={pythonpath}", *argv, "-p", "checker.plugin"]
    return shlex.join(argv)


def repro_reports_dir(name: str) -> Path:
    """Where a repro command of case ``name`` writes its reports: ``kcheck-repro/<case>``,
    relative to the directory the command is pasted in (docs/repro.md). Never the run's
    reports (a repro once replaced them), and never a fixed path in the shared temp directory,
    where another user could plant a symlink to a directory of yours (issue 23); not inside
    ``reports/`` either, which ``kcheck report reports/`` reads recursively."""
    # The golden files' rule for a path component: safe, and one directory per case.
    return Path("kcheck-repro") / safe_component(name)


#: Whether pytest loads this plugin by its entry point (``pip install``): set at configure.
_PLUGIN_INSTALLED = True


def format_failure(rec: Record) -> str:
    """pytest's failure text of a failed case: category, signature, case, config, the record's
    fields, its message and repro command.

    All of it but the category is record text (a compiler's or kernel's message can print
    anything), and pytest prints it to the log as is. In GitHub Actions it goes through
    :func:`checker.escape.for_log`, so that no line of it (``\\n::error::...``,
    ``::add-mask::...``, a legacy ``##[...]``) is run as a workflow command.
    """
    from checker.escape import for_log

    lines = [f"{rec.category.value} [{rec.signature}] {rec.case.name} ({rec.mode}, {rec.target})"]
    if rec.config_repr:
        lines.append(f"config: {rec.config_repr}")
    for key, value in sorted(rec.fields.items()):
        lines.append(f"{key}: {value}")
    lines.append(rec.message)
    if rec.repro:
        lines.append(f"repro: {rec.repro}")
    return for_log("\n".join(lines))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    rec = getattr(item, "record", None)
    if call.when == "call" and rec is not None:
        report.user_properties.append((RECORD_KEY, rec.to_json()))


class _Recorder:
    """Per-config listener (registered in pytest_configure) that turns reports into records and
    hands them to the writers. Only the controlling process writes."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collected([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._collected(ids)

    def _collected(self, nodeids: list[str]) -> None:
        """Before any case runs: replace the previous run's outputs and write what this run
        collected (checker/collected.py), once (every xdist worker collects the same items)."""
        from checker import collected

        state = self.state
        if (
            state.collect_only
            or state.collected is not None
            or not any(collected.case_of(n) for n in nodeids)
        ):
            return  # a run that checks no kernel case leaves old results alone
        state.reports_dir.mkdir(parents=True, exist_ok=True)
        for stale in STALE_OUTPUTS:
            (state.reports_dir / stale).unlink(missing_ok=True)
        state.collected = collected.write(state.reports_dir, nodeids)
        self._writer()

    def _writer(self) -> Any:
        if self.state.writer is None:
            from checker.results.jsonl import JsonlWriter

            self.state.writer = JsonlWriter(self.state.reports_dir / "results.jsonl")
        return self.state.writer

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        rec = _record_of(report, state)
        if rec is None:
            return
        if rec.nodeid in state.seen_nodeids:
            # A second record for one case (its teardown failed after the call passed): a
            # failure replaces what was recorded, never the reverse, and nothing goes silently.
            first = next(r for r in state.records if r.nodeid == rec.nodeid)
            state.duplicates.append(rec.nodeid or "")
            if not rec.failed or first.failed:
                return
            state.records.remove(first)
        state.seen_nodeids.add(rec.nodeid or "")
        state.records.append(rec)
        self._writer().write(rec)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A crashed xdist worker: the case it was running gets a ``worker-died`` record with the
        worker's signal or exit status (xdist's report carries only "crashed while running")."""
        from checker.collected import execution_case

        case = execution_case(crashitem)
        if case is None:
            return
        signal_name, status = _exit_of(getattr(report, "node", None))
        how = f"signal {signal_name}" if signal_name else f"exit status {status}"
        name = crashitem.rsplit("::", 1)[-1]
        from checker.execute import unconfigured_record

        rec = unconfigured_record(
            case,
            Category.WORKER_DIED,
            self.state.options,
            f"pytest-xdist worker crashed ({how}) while running {crashitem}",
            f"xdist worker died {signal_name or status}",
            duration_s=0.0,
            fields={"signal": signal_name, "exit_status": status, "worker_recycled": True},
            nodeid=crashitem,
            repro=repro_command(self.state.rootpath / report.location[0], name, self.state.argv_extra),
        )
        report.user_properties.append((RECORD_KEY, rec.to_json()))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if state.collected:
            from checker import collected

            lost = collected.lost_records(state.collected, state.records, state.options.target.name)
            for rec in lost:
                state.records.append(rec)
                self._writer().write(rec)
            if lost and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if any(r.category.traits.owner is Owner.CHECKER for r in state.records):
            # Its own status (3, pytest's INTERNAL_ERROR): a kcheck bug, whatever the kernels did.
            session.exitstatus = EXIT_CHECKER_ERROR
        if not state.records:
            return
        from checker.report import junit

        junit.write(self.state.records, self.state.reports_dir / "junit.xml")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        state = self.state
        keyword = terminalreporter.config.getoption("keyword")
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and keyword:
            terminalreporter.write_line(_nothing_selected(state, keyword), yellow=True)
        if not state.records:
            return
        from checker.report.terminal import render

        tw = terminalreporter._tw
        terminalreporter.write_sep("=", "kcheck")
        terminalreporter.write(render(state.records, width=max(80, tw.fullwidth), color=tw.hasmarkup))
        terminalreporter.write_line(
            f"records: {state.reports_dir / 'results.jsonl'}  junit: {state.reports_dir / 'junit.xml'}"
        )


def _exit_of(node: Any) -> tuple[str | None, int | None]:
    """(signal name, exit status) of a crashed xdist worker's process, from execnet's Popen."""
    import signal

    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    if popen is None:
        return None, None
    try:
        status = popen.wait(timeout=5)
    except Exception:
        return None, None
    if status < 0:
        return signal.Signals(-status).name, None
    return None, status


def _nothing_selected(state: _State, keyword: str) -> str:
    """What to tell a user whose ``-k`` selected no case: the kernel names there are."""
    names = sorted(state.spec_names)
    if not names:
        # Under xdist the workers collected, not this process.
        from checker import loader

        try:
            names = sorted({s.name for s in loader.specs_in([p for p in state.kernel_dirs if p.exists()])})
        except Exception as exc:
            return f"kcheck: -k {keyword!r} selects no case (kernel names unavailable: {exc})"
    shown = ", ".join(names) if names else "none"
    return (
        f"kcheck: -k {keyword!r} selects no case; kernels: {shown} "
        "(case ids read kernel[shape-dtype-config], e.g. rms_norm[2048x4096-bf16-cfg3])"
    )


def _record_of(report: pytest.TestReport, state: _State) -> Record | None:
    for key, value in report.user_properties:
        if key == RECORD_KEY:
            return Record.from_json(str(value))
    if not report.failed:
        return None
    # No record: the case died before writing one (worker crash, pytest-timeout, setup error).
    from checker.collected import execution_case

    case = execution_case(report.nodeid)
    if case is None:
        return None
    name = report.nodeid.rsplit("::", 1)[-1]
    text = str(report.longrepr or "")
    if report.when == "???":
        category = Category.WORKER_DIED  # a crash pytest_handlecrashitem could not attribute
    elif "Timeout" in text:
        category = Category.RUN_TIMEOUT
    else:
        category = Category.RUNTIME_ERROR
    last_line = diagnostics.sanitize(text.strip().splitlines()[-1] if text.strip() else report.outcome)
    from checker.execute import unconfigured_record

    return unconfigured_record(
        case,
        category,
        state.options,
        text,
        last_line,
        duration_s=round(report.duration, 4),
        nodeid=report.nodeid,
        repro=repro_command(state.rootpath / report.location[0], name, state.argv_extra),
    )
