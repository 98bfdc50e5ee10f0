"""The pytest items of a kcheck run: a kernel module collects into one :class:`KernelCase` per
case (kernel x shape x dtype x config) plus its golden items, or into one
:class:`CollectionErrorItem`; each item leaves one record (``item.record``) that
checker/plugin.py attaches to the item's report and checker/recorder.py writes."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from checker import diagnostics
from checker.blame import CaseFault
from checker.categories import Category
from checker.model import CaseId, Mode, Record, new_record
from checker.rerun import rerun_of
from checker.session import STATE, fresh
from checker.spec import KernelSpec, SpecError, specs_of_module
from checker.sweep import expand


def _prestart_case_worker(config: pytest.Config) -> None:
    """Start this process's case worker before its first kernel module is imported: the worker's
    own imports (torch, triton, helion: 14-20 s on the H200 host, docs/benchmarks.md) then run
    while this process collects, instead of after it, before the first case. Not for
    ``--collect-only`` or without ``--isolate``, and only once a kernel module is collected (a
    session with none starts no worker)."""
    state = config.stash[STATE]
    if state.isolate and not state.collect_only:
        fresh("checker.exec_worker").runner(state.options, config.getoption("run_timeout")).prestart()


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
            seed = state.options.sweep_seed
            for case in expand(spec, n, self.config.getoption("shapes"), seed):
                items.append(KernelCase.from_parent(self, name=case.name, spec=spec, case=case))
            for extra in self.config.hook.pytest_kcheck_spec_items(module=self, spec=spec):
                items.extend(extra)
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
                runner = fresh("checker.exec_worker").runner(state.options, timeout)
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
            worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
            **rerun_of(state.rerun, self.path, self.name),
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
