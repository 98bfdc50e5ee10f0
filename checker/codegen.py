"""Helion -> Triton source, and loading that source as a module to run it."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from checker import rundir
from checker.spec import DefaultConfig

_MODULE_DIR: str | None = None


def resolve_config(bound: Any, config: Any) -> Any:
    """The ``helion.Config`` a named config stands for on this bound kernel.

    ``DEFAULT`` becomes Helion's ``config_spec.default_config()``.
    """
    if isinstance(config, DefaultConfig):
        return bound.config_spec.default_config()
    return config


def generate(bound: Any, config: Any) -> str:
    """Triton source for ``bound`` (a Helion ``BoundKernel``) under ``config``.

    Raises whatever Helion raises (``helion.exc.InvalidConfig``, ``helion.exc.BaseError``
    subclasses, Triton errors...); diagnostics.classify turns those into categories.
    """
    return str(bound.to_triton_code(config))


def _module_dir() -> str:
    global _MODULE_DIR
    if _MODULE_DIR is None or not os.path.isdir(_MODULE_DIR):
        # Under the run's scratch directory, removed when the run ends (checker.rundir).
        _MODULE_DIR = str(rundir.scratch("gen"))
    return _MODULE_DIR


def load(code: str, entry: str) -> Any:
    """Import generated source ``code`` and return its host function ``entry``.

    The file is named by the source's hash, so identical code is written once per process; Triton
    needs a real file to read the kernel's source from.

    Raises:
        AttributeError: the module defines no ``entry``.
    """
    digest = hashlib.sha256(code.encode()).hexdigest()[:20]
    name = f"kcheck_gen_{digest}"
    module = sys.modules.get(name)
    if module is None:
        path = os.path.join(_module_dir(), f"{name}.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return _entry(module, entry)


def _entry(module: ModuleType, entry: str) -> Any:
    try:
        return getattr(module, entry)
    except AttributeError:
        raise AttributeError(f"generated module defines no host function {entry!r}") from None


def module_of(fn: Any) -> ModuleType:
    """The generated module a host function came from."""
    return sys.modules[fn.__module__]
