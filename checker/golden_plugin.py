"""pytest hooks of the golden stage: options, golden items, update/prune accounting.

Loaded by ``checker.plugin`` (``pytest_plugins``). Each kernel module gets one item per golden
case, named ``golden[<kernel>-<shape>-<dtype>-<config>]`` (e.g.
``kernels/softmax.py::golden[softmax-4096x2048-fp32-default]``), marked ``kcheck`` and
``golden``: ``-k golden`` selects them, ``-k "not golden"`` leaves them out. The name carries the
kernel because a module may declare several specs, and differs from the execution case's, so
a merger keyed by node id never confuses the two. Records travel like every other record
(checker.session.RECORD_KEY) with ``mode="golden"``; the controller hears of each through the
``pytest_kcheck_record`` hook (checker/hookspecs.py).

The controlling process counts outcomes (created / updated / unchanged, or passed / diff /
missing / stale), judges unused golden files from the collection manifest of one process that
collected (itself, or an xdist worker through ``workeroutput``), prunes them with
``--update-golden --prune``, fails the run on them unless ``--golden-warn-unused``, and prints
the counts. Rules and file layout: docs/goldens.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from checker import options
from checker.categories import GOLDEN_CATEGORIES, Category
from checker.golden import cases, paths
from checker.golden.check import MODE, GoldenContext, check_golden
from checker.golden.unused import Manifest, find_unused, prune
from checker.items import CollectionErrorItem, KernelModule
from checker.model import Record
from checker.rerun import repro_command, rerun_values
from checker.session import STATE
from checker.spec import KernelSpec

_MANIFEST_KEY = "kcheck_golden_manifest"


@dataclasses.dataclass
class _GoldenState:
    enabled: bool
    update: bool
    prune: bool
    warn_unused: bool
    root: Path
    is_controller: bool
    context: GoldenContext | None = None
    #: kernel name -> golden file names (relative to the kernel's directory) of its items
    tracked: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    known: set[str] = dataclasses.field(default_factory=set)
    all_items: list[pytest.Item] = dataclasses.field(default_factory=list)
    manifest: Manifest | None = None
    records: dict[str, Record] = dataclasses.field(default_factory=dict)
    unused: list[Path] = dataclasses.field(default_factory=list)
    pruned: bool = False
    judged: bool = False
    #: Why golden checks are off (empty when they are on), shown in the header and summary.
    why_off: str = ""
    #: False when ``--kernels`` names only part of the suite whose golden directory this is:
    #: golden files of kernels outside the run are then not judged unused.
    whole_suite: bool = True


GOLDEN = pytest.StashKey[_GoldenState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_pytest_options(parser.getgroup("kcheck", "kernel checker"), options.declared_by(__name__))
    parser.addini(
        "kcheck_golden_dir",
        default="",
        help="directory of golden files, relative to the rootdir; the golden stage is on only "
        "where this (or --golden-dir) is set (this repository: golden)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "golden: a golden-file check of generated code (kcheck)")
    update = bool(config.getoption("update_golden"))
    if config.getoption("prune") and not update:
        raise pytest.UsageError("--prune deletes unused golden files only together with --update-golden")
    root, why_off = golden_root(config)
    if update and root is None:
        raise pytest.UsageError(f"--update-golden: {why_off}")
    state = _GoldenState(
        enabled=root is not None,
        update=update,
        prune=bool(config.getoption("prune")),
        warn_unused=bool(config.getoption("golden_warn_unused")),
        root=root or Path(),
        is_controller=not hasattr(config, "workerinput"),
        why_off=why_off,
        whole_suite=_covers_project_suite(config),
    )
    config.stash[GOLDEN] = state
    if state.is_controller:
        config.pluginmanager.register(_GoldenController(state), "kcheck-golden-controller")


def _project_kernel_paths(config: pytest.Config) -> list[Path]:
    """The project's own suites, which own the ini's golden directory: ``kcheck_kernel_paths``,
    else ``<rootdir>/kernels``."""
    return [Path(p).resolve() for p in config.getini("kcheck_kernel_paths")] or [config.rootpath / "kernels"]


def golden_root(config: pytest.Config) -> tuple[Path | None, str]:
    """The golden directory of this run, or None and why golden checks are off.

    ``--golden-dir`` wins. Without ``--kernels``, the ``kcheck_golden_dir`` ini option (relative
    to the rootdir) applies. With ``--kernels``, the ini option still applies when every path
    lies in the project's own suites (:func:`_project_kernel_paths`); any other suite uses
    ``golden/`` inside its own directory (for ``/x/specs`` or ``/x/specs/k.py``:
    ``/x/specs/golden``), when that directory exists or ``--update-golden`` is creating it.
    Inside, not beside: sibling suites (``/x/a``, ``/x/b``) once shared ``/x/golden``, and the
    first run of the second had a ``golden-missing`` for each of its tracked cases.
    """
    given = config.getoption("golden_dir")
    if given:
        return (config.rootpath / given).resolve(), ""
    ini = str(config.getini("kcheck_golden_dir")).strip()
    kernels = [Path(p).resolve() for p in config.getoption("kernels")]
    project = _project_kernel_paths(config)
    if ini and all(any(k.is_relative_to(p) for p in project) for k in kernels):
        return (config.rootpath / ini).resolve(), ""
    if not kernels:
        return None, (
            "golden checks are off: no golden directory is configured (set kcheck_golden_dir in "
            "the pytest ini file or pass --golden-dir)"
        )
    inside = {(p if p.is_dir() else p.parent) / "golden" for p in kernels}
    if len(inside) > 1:
        return None, (
            "golden checks are off: the kernel paths lie in different directories "
            f"({', '.join(sorted(map(str, inside)))} would hold their goldens); pass --golden-dir"
        )
    (root,) = inside
    if not root.is_dir() and not config.getoption("update_golden"):
        return None, (
            f"golden checks are off: {root} (in the kernel suite) does not exist; create it "
            "with --update-golden, or name another directory with --golden-dir"
        )
    return root, ""


def _covers_project_suite(config: pytest.Config) -> bool:
    """Whether this run's kernel paths include all of the project's own suites, which own the
    ini's golden directory (only then may files of kernels it did not see be judged unused)."""
    given = [Path(p).resolve() for p in config.getoption("kernels")]
    if not given or config.getoption("golden_dir"):
        return True
    return all(any(p.is_relative_to(g) for g in given) for p in _project_kernel_paths(config))


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash[GOLDEN]
    if not any(p.exists() for p in config.stash[STATE].kernel_dirs):
        return None  # a project without kernels, where the installed plugin has nothing to say
    return state.why_off if not state.enabled else f"kcheck golden files: {state.root}"


def _context(config: pytest.Config) -> GoldenContext:
    state = config.stash[GOLDEN]
    if state.context is None:
        options = config.stash[STATE].options
        state.context = GoldenContext(
            root=state.root,
            target=options.target.name,
            native=options.native,
            update=state.update,
            display_base=config.rootpath,
            options=options,
        )
    return state.context


def pytest_kcheck_spec_items(module: KernelModule, spec: KernelSpec) -> list[pytest.Item]:
    """The golden items of ``spec``, declared in kernel module ``module`` (the hook
    ``KernelModule.collect`` calls: checker/hookspecs.py)."""
    state = module.config.stash[GOLDEN]
    if not state.enabled:
        return []
    state.known.add(spec.name)
    items: list[pytest.Item] = []
    for gcase in cases.golden_cases(spec):
        name = f"golden[{spec.name}-{gcase.case.param}]"
        items.append(GoldenItem.from_parent(module, name=name, spec=spec, gcase=gcase))
        if gcase.tracked:
            file_name = paths.safe_component(gcase.case.param) + paths.SUFFIX
            state.tracked.setdefault(spec.name, []).append(file_name)
    return items


def _check_on_shared_gpu(
    spec: KernelSpec, gcase: cases.GoldenCase, ctx: GoldenContext, accept: str
) -> Record:
    """:func:`check_golden`, which on a GPU may bind the kernel to inputs on the device beside
    every case worker of the run: as a case is (checker/exec_worker.py), it holds the GPU's
    checker.alone lock shared, and a check that ran out of GPU memory is checked again holding
    it alone, after this process's case worker gave back its memory. Out of memory alone too,
    that is its record (``retried_alone`` in its fields)."""
    from checker import exec_worker

    if not ctx.options.native:
        return check_golden(spec, gcase, ctx, accept)

    def attempt(by_itself: bool) -> Record:
        if by_itself:
            exec_worker.free_memory()  # this process's own case worker is no shared holder now
        return check_golden(spec, gcase, ctx, accept)

    lock = exec_worker.gpu_lock_name(True)
    return exec_worker.decided_alone(lock, attempt, exec_worker.free_memory)[0]


class GoldenFailed(Exception):
    """Raised by a GoldenItem whose record is a failure; carries the record."""

    def __init__(self, record: Record) -> None:
        super().__init__(record.message)
        self.record = record


class GoldenItem(pytest.Item):
    """One golden case: generate, normalize, compare with (or write) the golden file, run the
    FileCheck expectations."""

    def __init__(self, *, spec: KernelSpec, gcase: cases.GoldenCase, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.gcase = gcase
        self.record: Record | None = None
        self.add_marker("kcheck")
        self.add_marker("golden")

    def runtest(self) -> None:
        values = rerun_values(self.config.stash[STATE].rerun, self.path, self.name)
        accept = repro_command(self.path, self.name, values, ["--update-golden"])
        try:
            rec = _check_on_shared_gpu(self.spec, self.gcase, _context(self.config), accept)
        except Exception as exc:
            # Never an item without a record: whatever escaped the golden stage is its finding.
            from checker import diagnostics
            from checker.execute import unconfigured_record

            d = diagnostics.classify(exc)
            rec = unconfigured_record(
                self.gcase.case, d.category, self.config.stash[STATE].options, d.message, d.message, 0.0
            )
            rec = dataclasses.replace(rec, mode=MODE, fields=d.fields)
        self.record = dataclasses.replace(
            rec,
            nodeid=self.nodeid,
            repro=repro_command(self.path, self.name, values),
            options=values.to_json(),
            worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
        )
        if self.record.category.is_failure:
            raise GoldenFailed(self.record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, GoldenFailed):
            return format_golden_failure(excinfo.value.record)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def format_golden_failure(rec: Record) -> str:
    """Failure text of a golden record: what changed in one line first, then the message, the
    FileCheck output or the diff, and the repro."""
    where = rec.fields.get("golden_path", rec.target)
    lines = [f"{rec.category.value} [{rec.signature}] {rec.case.name} ({where})"]
    if rec.fields.get("summary"):
        lines.append(f"summary: {rec.fields['summary']}")
    if rec.fields.get("golden_toolchain"):
        lines.append(
            f"golden made with: {rec.fields['golden_toolchain']}, running: {rec.fields['running_toolchain']}"
        )
    if rec.config_repr:
        lines.append(f"config: {rec.config_repr}")
    lines.append(rec.message)
    if rec.fields.get("diff"):
        lines += ["", str(rec.fields["diff"]).rstrip("\n")]
    if rec.repro:
        lines.append(f"repro: {rec.repro}")
    return "\n".join(lines)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the full collection, before -k/-m (or a shard) deselect anything.
    config.stash[GOLDEN].all_items = list(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[GOLDEN]
    if not any(isinstance(i, GoldenItem) for i in state.all_items) and not state.known:
        return
    manifest = _manifest(config, state, session.items)
    if state.is_controller:
        state.manifest = manifest
    else:
        config.workeroutput[_MANIFEST_KEY] = manifest.to_json()  # type: ignore[attr-defined]


def _manifest(config: pytest.Config, state: _GoldenState, selected: list[pytest.Item]) -> Manifest:
    golden_all = [i for i in state.all_items if isinstance(i, GoldenItem)]
    chosen = {i.nodeid for i in selected}
    by_kernel: dict[str, list[bool]] = {}
    for item in golden_all:
        if item.gcase.tracked:
            by_kernel.setdefault(item.spec.name, []).append(item.nodeid in chosen)
    complete = sorted(k for k, flags in by_kernel.items() if all(flags))
    collected_files = {i.path.resolve() for i in state.all_items if isinstance(i.parent, KernelModule)}
    kernel_files = {
        p.resolve()
        for d in config.stash[STATE].kernel_dirs
        for p in Path(d).rglob("*.py")
        if not p.name.startswith("_")
    }
    full_scan = (
        state.whole_suite
        and all(all(flags) for flags in by_kernel.values())
        and not any(isinstance(i, CollectionErrorItem) for i in state.all_items)
        and kernel_files <= collected_files
    )
    return Manifest(
        key=_context(config).key,
        tracked={k: sorted(v) for k, v in state.tracked.items()},
        complete=complete,
        known=sorted(state.known),
        full_scan=full_scan,
    )


class _GoldenController:
    """Listens in the controlling process: golden records, the manifest, unused files."""

    def __init__(self, state: _GoldenState) -> None:
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        text = getattr(node, "workeroutput", {}).get(_MANIFEST_KEY)
        if text and self.state.manifest is None:
            self.state.manifest = Manifest.from_json(text)

    def pytest_kcheck_record(self, record: Record) -> None:
        if record.mode == MODE and record.nodeid:
            self.state.records[record.nodeid] = record

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        # Nothing ran (--collect-only) or the run was cut short: judge nothing, delete nothing.
        ended = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        if state.manifest is None or session.config.option.collectonly or not ended:
            return
        state.judged = True
        state.unused = find_unused(state.root, state.manifest)
        if state.unused and state.update and state.prune:
            prune(state.unused, state.root)
            state.pruned = True
        elif state.unused and not state.warn_unused and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if not state.enabled and terminalreporter.config.stash[STATE].records:
            terminalreporter.write_sep("-", "kcheck golden")
            terminalreporter.write_line(state.why_off)
        if not state.records and not state.unused:
            return
        key = state.manifest.key if state.manifest else "?"
        terminalreporter.write_sep("-", f"kcheck golden ({key}, {_shown(state.root, terminalreporter)})")
        terminalreporter.write_line(summary_text(state))
        if state.unused and not state.pruned:
            for path in state.unused[:20]:
                terminalreporter.write_line(f"  unused: {_shown(path, terminalreporter)}")
            if len(state.unused) > 20:
                terminalreporter.write_line(f"  ... and {len(state.unused) - 20} more")
            terminalreporter.write_line(
                "  delete them with --update-golden --prune (commit first)"
                + ("" if state.warn_unused else "; --golden-warn-unused makes them a warning")
            )
        if not state.judged:
            terminalreporter.write_line("  unused files not judged: no complete collection reported")


def _shown(path: Path, terminalreporter: Any) -> str:
    try:
        return str(path.resolve().relative_to(terminalreporter.config.rootpath))
    except ValueError:
        return str(path)


def summary_text(state: _GoldenState) -> str:
    """One line of counts: ``3 created, 1 updated, 92 unchanged, 2 unused`` with
    ``--update-golden``, else ``95 passed, 1 golden-diff, ...``."""
    records = list(state.records.values())
    n_unused = len(state.unused)
    if state.update:
        actions = Counter(str(r.fields.get("golden_action", "")) for r in records)
        parts = [f"{actions[a]} {a}" for a in ("created", "updated", "unchanged")]
        parts.append(f"{n_unused} unused" + (" (pruned)" if state.pruned else ""))
        failing = sum(r.category.is_failure for r in records)
        if failing:
            parts.append(f"{failing} failing")
        return ", ".join(parts)
    counts = Counter(r.category for r in records)
    order = [Category.PASSED, *(c for c in Category if c in GOLDEN_CATEGORIES)]
    parts = [f"{counts.pop(c, 0)} {c.value}" for c in order]
    parts += [f"{n} {c.value}" for c, n in sorted(counts.items())]
    parts.append(f"{n_unused} unused" + (" (warning)" if n_unused and state.warn_unused else ""))
    return ", ".join(parts)
