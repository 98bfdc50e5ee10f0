"""Whose exception is it: the checker's own code, or the case's?

A checker that records its own bug as a kernel's ``runtime-error`` blames the kernel for
something it did not do: on a distribution Python (``math`` built into the interpreter, no
``__file__``) a globals walk in the stage cache raised ``AttributeError`` for every attention
case, and 168 of 861 cases failed under the kernels' names (issue 22). Such an exception is a
``checker-error`` instead, decided here by the frames of its traceback.

The rule (docs/records.md#checker-error):

1. Exceptions the checker raises on purpose about a case or its spec (subclasses of
   :class:`CaseFault`: ``SpecError``, a reference that returns no tensor, ...) are never the
   checker's; neither are memory and device errors (CUDA OOM, ``CUDA error: ...``, a host
   ``MemoryError``), which surface wherever the next synchronize or allocation happens.
2. Otherwise the innermost frame of the exception's own traceback that is not *transparent*
   decides: a frame in the ``checker`` package is the checker's (``checker-error``); any other
   frame (the kernel's module, its spec, the generated code, Helion, Triton, another package)
   is the case's, classified as before. Transparent frames are the standard library, torch and
   numpy (the checker and kernels both call them, so they say nothing of who erred), frames of
   no file (``<frozen ...>``, ``<string>``), and checker code that only runs on a case's behalf
   (:func:`passthrough`: the torch-function mode that poisons fresh outputs, the interpreter's
   shims, which are the CPU's stand-in for the GPU's arithmetic).
3. Only the outermost exception's own traceback counts: checker code that catches a case's
   exception and raises another one (``raise SpecError(...) from exc``) is deliberate, and a
   bug in such a handler is the checker's.

This module is on the bottom floor: it imports nothing of the checker's.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

_CHECKER_DIR = os.path.dirname(os.path.realpath(__file__)) + os.sep

#: Exception type names (of the exception or a base) that are the device's or the host's, never
#: the checker's: they surface at whatever call next touches the device or allocates.
_ENVIRONMENT_TYPES = frozenset({"OutOfMemoryError", "AcceleratorError", "MemoryError", "CudaError"})
#: Message fragments of CUDA runtime errors that torch raises as a plain RuntimeError.
_ENVIRONMENT_TEXT = ("CUDA error", "CUDA driver error", "CUDA out of memory", "cudaError")

_passthrough_code: set[types.CodeType] = set()
_passthrough_files: set[str] = set()

F = TypeVar("F", bound=Callable[..., Any])


class CaseFault(Exception):
    """Base of the exceptions the checker raises on purpose about a case, its spec or its
    inputs (``SpecError``, a reference that returns something other than a tensor): they name
    the case's fault, so they are never a ``checker-error`` wherever they are raised."""


def passthrough(fn: F) -> F:
    """Mark ``fn`` as checker code that only forwards a case's own calls (a hook the case's code
    runs through, such as a ``__torch_function__`` mode): its frames are transparent, so an
    error the forwarded call raises is judged by the frames around it."""
    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType):
        _passthrough_code.add(code)
    return fn


def passthrough_module(path: str) -> None:
    """Mark every function of the module at ``path`` (its ``__file__``) as :func:`passthrough`:
    for modules that stand in for the case's own runtime (checker/interpreter.py's shims)."""
    _passthrough_files.add(os.path.realpath(path))


def _library_dirs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(standard library directories, torch's and numpy's package directories)."""
    paths = sysconfig.get_paths()
    stdlib = {paths[k] for k in ("stdlib", "platstdlib") if paths.get(k)}
    packages = set()
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) if module is not None else None
        if isinstance(path, str):
            packages.add(os.path.dirname(path))
    return (
        tuple(os.path.realpath(d) + os.sep for d in stdlib),
        tuple(os.path.realpath(d) + os.sep for d in packages),
    )


def _is_library(path: str, dirs: tuple[tuple[str, ...], tuple[str, ...]]) -> bool:
    stdlib, packages = dirs
    if path.startswith(packages):
        return True
    # A pyenv or python.org build keeps site-packages inside its stdlib directory: Helion and
    # Triton live there and are the case's code, not the standard library.
    return path.startswith(stdlib) and not any(
        part in ("site-packages", "dist-packages") for part in path.split(os.sep)
    )


def _is_environment(exc: BaseException) -> bool:
    names = {t.__name__ for t in type(exc).__mro__}
    if names & _ENVIRONMENT_TYPES:
        return True
    text = str(exc)
    return any(fragment in text for fragment in _ENVIRONMENT_TEXT)


@dataclass(frozen=True)
class Culprit:
    """The frame that decided: ``path`` (absolute), ``line`` and ``function``, and whether it is
    the checker's own code (``checker``)."""

    path: str
    line: int
    function: str
    checker: bool

    @property
    def where(self) -> str:
        """``checker/cache/identity.py:114 in _source_file`` (relative to the checker's parent for
        checker frames, the file's base name otherwise)."""
        shown = "checker/" + self.path[len(_CHECKER_DIR) :] if self.checker else os.path.basename(self.path)
        return f"{shown}:{self.line} in {self.function}"


def culprit(exc: BaseException) -> Culprit | None:
    """The innermost non-transparent frame of ``exc``'s own traceback (see the module doc), or
    None when every frame is transparent or there is no traceback."""
    libraries = _library_dirs()
    tb = exc.__traceback__
    frames: list[tuple[types.FrameType, int]] = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    for frame, line in reversed(frames):
        code = frame.f_code
        name = code.co_filename
        if not name or name.startswith("<") or code in _passthrough_code:
            continue
        path = os.path.realpath(name)
        if path in _passthrough_files or _is_library(path, libraries):
            continue
        return Culprit(path, line, code.co_name, path.startswith(_CHECKER_DIR))
    return None


def checker_fault(exc: BaseException) -> Culprit | None:
    """The checker frame that makes ``exc`` a ``checker-error``, or None when ``exc`` is the
    case's (or the device's) by the module doc's rule."""
    if isinstance(exc, CaseFault) or _is_environment(exc):
        return None
    found = culprit(exc)
    return found if found is not None and found.checker else None


def traceback_text(exc: BaseException, limit: int = 30) -> str:
    """The last ``limit`` frames of ``exc``'s traceback and its chain, as Python prints them."""
    return "".join(traceback.format_exception(exc, limit=-limit if limit else None))
