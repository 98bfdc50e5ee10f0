"""The one place that imports kernel files, under a name every process can import again.

Helion's generated code refers to module-level globals of the kernel's module (a combine
function of ``hl.associative_scan``, a helper called from host code) through
``import <module> as _source_module``, where ``<module>`` is the kernel function's
``__module__``. So a kernel file must be importable *by that name* in every process that runs
or compiles its generated code: the pytest process, xdist workers, compile workers and case
workers. This module gives each kernel file a deterministic name,
``kcheck_kernels.<directory>__<stem>`` (the same in every process and on every machine, so
golden files of generated code do not depend on where a checkout lives), and installs an import
hook that resolves such names to their files. Worker processes learn the names of the files
loaded in their parent from :func:`registered`, which :mod:`checker.pool` sends with every job.

The plugin, the workers, the benchmarks and the tests all load kernel files through here.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from checker.spec import KernelSpec, specs_of_module

#: Top-level package under which kernel files are imported.
PACKAGE = "kcheck_kernels"

_registry: dict[str, Path] = {}


class LoaderError(ImportError):
    """A kernel path cannot be loaded: it does not exist, holds no kernel modules, or two files
    would share one module name. The message names the path(s)."""


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return name if name and not name[0].isdigit() else f"_{name}"


def module_name(path: Path) -> str:
    """The importable name of kernel file ``path``: ``kcheck_kernels.<dir>__<stem>``.

    Deterministic in the file's directory name and stem only, so the name (which Helion writes
    into generated code) is the same on every machine and in every process.
    """
    path = Path(path)
    return f"{PACKAGE}.{_identifier(path.resolve().parent.name)}__{_identifier(path.stem)}"


class _Finder(importlib.abc.MetaPathFinder):
    """Resolves ``kcheck_kernels`` (an empty namespace) and the registered kernel modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == PACKAGE:
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        file = _registry.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


_FINDER = _Finder()


def _install() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def register(path: Path) -> str:
    """Make kernel file ``path`` importable (without importing it) and return its name.

    Raises:
        LoaderError: another file whose module is loaded in this process has the same name
            (same directory name and stem in two places); the message names both files.
    """
    file = Path(path).resolve()
    name = module_name(file)
    other = _registry.setdefault(name, file)
    if other != file and name not in sys.modules:
        # The other file's module is gone (a test harness restored sys.modules): no clash.
        _registry[name] = other = file
    if other != file:
        raise LoaderError(
            f"kernel files {other} and {file} would both be imported as {name}; rename one of "
            "them (the module name is the directory name and the file stem)"
        )
    _install()
    return name


def register_all(names: Mapping[str, str]) -> None:
    """Register ``{module name: file}`` pairs sent by a parent process (see :func:`registered`)."""
    for name, file in names.items():
        if _registry.setdefault(name, Path(file)) == Path(file):
            continue
        raise LoaderError(f"{name} is registered for {_registry[name]}, not {file}")
    if names:
        _install()


def registered() -> dict[str, str]:
    """Every registered ``{module name: file}`` of this process, for a worker process."""
    return {name: str(file) for name, file in _registry.items()}


def load(path: Path) -> ModuleType:
    """Import kernel file ``path`` under :func:`module_name` (once per process) and return it.

    Raises:
        LoaderError: see :func:`register`; FileNotFoundError when ``path`` does not exist.
        Whatever the module raises at import (SyntaxError, ImportError...): nothing is left in
        ``sys.modules`` then, so a retry imports it afresh.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"kernel file {file} does not exist")
    return importlib.import_module(register(file))


def is_kernel_file(path: Path) -> bool:
    """True for ``*.py`` files that are kernel modules: names starting with ``_`` are not (they
    are helpers and ``__init__``), nor is anything inside a directory starting with ``.`` or
    ``_`` (caches, virtual environments)."""
    return path.suffix == ".py" and not path.name.startswith("_")


def kernel_files(directory: Path) -> list[Path]:
    """The kernel modules under ``directory`` (recursively), sorted by path."""
    found = []
    for file in sorted(Path(directory).rglob("*.py")):
        parts = file.relative_to(directory).parts[:-1]
        if is_kernel_file(file) and not any(p.startswith((".", "_")) for p in parts):
            found.append(file)
    return found


def check_kernel_paths(paths: Sequence[Path], what: str) -> list[Path]:
    """Resolve user-given kernel paths (files or directories), refusing mistakes.

    ``what`` names where the paths came from (``--kernels``, ``kcheck_kernel_paths``), for the
    message.

    Raises:
        LoaderError: a path does not exist, a file is not a ``.py`` kernel module, or a directory
            holds no kernel module; the message names the path.
    """
    resolved: list[Path] = []
    for raw in paths:
        path = Path(raw).resolve()
        if not path.exists():
            raise LoaderError(f"{what}: {raw} does not exist")
        if path.is_file() and not is_kernel_file(path):
            raise LoaderError(f"{what}: {raw} is not a kernel module (a .py file not starting with _)")
        if path.is_dir() and not kernel_files(path):
            raise LoaderError(f"{what}: {raw} holds no kernel modules (.py files not starting with _)")
        if path not in resolved:
            resolved.append(path)
    return resolved


def specs_in(paths: Iterable[Path]) -> list[KernelSpec]:
    """Every spec declared by the kernel modules in ``paths`` (files or directories, searched
    recursively), in path order; for scripts and tests outside pytest.

    Raises:
        SpecError: a module declares no spec or a malformed one. Import errors propagate.
    """
    found: list[KernelSpec] = []
    for path in paths:
        files = kernel_files(path) if Path(path).is_dir() else [Path(path)]
        for file in files:
            found.extend(specs_of_module(load(file)))
    return found


def spec_named(kernel_file: str, spec_name: str) -> KernelSpec:
    """The spec called ``spec_name`` that ``kernel_file`` declares (for worker processes).

    Raises:
        LookupError: the module declares no such spec. Import and spec errors propagate.
    """
    for spec in specs_of_module(load(Path(kernel_file))):
        if spec.name == spec_name:
            return spec
    raise LookupError(f"{kernel_file}: no kernel spec named {spec_name!r}")
