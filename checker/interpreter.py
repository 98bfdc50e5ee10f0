"""Running generated Triton under the Triton interpreter (TRITON_INTERPRET=1) on CPU.

Two measured gaps of the interpreter (triton 3.6, 2026-11) must not be reported as kernel bugs:

* ``libdevice`` calls (``libdevice.rsqrt``, ``libdevice.exp``...) return None, because the
  interpreter patches ``triton.language`` but not ``triton.language.extra.libdevice``. Where a
  ``tl.math`` builtin computes the same function, :data:`LIBDEVICE_SHIM` routes the call there
  (sound: the interpreter evaluates both with numpy in the same precision). Other functions raise
  :class:`InterpreterGap`.
* ``tl.dot`` on bf16 operands comes back with relative error ~1e10 (numpy has no bf16); fp8
  operands likewise have no numpy type. :func:`unsupported_reason` names such cases before they
  run so they are recorded as ``interpreter-unsupported``.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import torch


class InterpreterGap(RuntimeError):
    """The interpreter cannot run this code faithfully; the message says why."""


def enable() -> None:
    """Route every ``@triton.jit`` in this process through the interpreter.

    Must run before ``triton`` is imported: Triton decides at decoration time, and its own
    ``tl.sum``/``tl.max`` are decorated when ``triton.language`` is imported.

    Raises:
        RuntimeError: triton was imported earlier without TRITON_INTERPRET=1.
    """
    if "triton.language" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError(
            "triton was imported before the Triton interpreter could be enabled; set "
            "TRITON_INTERPRET=1 in the environment, or do not import triton in conftest.py"
        )
    os.environ["TRITON_INTERPRET"] = "1"


def _tl_math(name: str) -> Any:
    def call(*args: Any) -> Any:
        import triton.language as tl

        # Looked up per call: the interpreter patches tl.math while a kernel runs.
        return getattr(tl.math, name)(*args)

    return call


# libdevice name -> tl.math builtin computing the same function.
_SAME_FUNCTION = {
    "exp": "exp",
    "exp2": "exp2",
    "log": "log",
    "log2": "log2",
    "sqrt": "sqrt",
    "sqrt_rn": "sqrt_rn",
    "rsqrt": "rsqrt",
    "sin": "sin",
    "cos": "cos",
    "erf": "erf",
    "floor": "floor",
    "ceil": "ceil",
    "abs": "abs",
    "fabs": "abs",
    "fma": "fma",
    "div_rn": "div_rn",
}


class _LibdeviceShim:
    """Stands in for ``libdevice`` in generated modules run by the interpreter."""

    def __init__(self) -> None:
        self._funcs = {name: _tl_math(target) for name, target in _SAME_FUNCTION.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._funcs[name]
        except KeyError:
            raise InterpreterGap(
                f"libdevice.{name} has no interpreter equivalent (the Triton interpreter returns "
                "None for libdevice calls)"
            ) from None


LIBDEVICE_SHIM = _LibdeviceShim()

_DOT_RE = re.compile(r"\btl\.dot(_scaled)?\(|\bhl\.dot\(")
_NO_NUMPY_TYPE = {
    torch.bfloat16: "bf16",
    torch.float8_e4m3fn: "fp8 e4m3",
    torch.float8_e5m2: "fp8 e5m2",
}


def unsupported_reason(code: str, dtypes: set[torch.dtype]) -> str | None:
    """Why ``code`` cannot be checked under the interpreter with inputs of ``dtypes``, or None.

    ``dtypes`` are the dtypes of the kernel's tensor arguments.
    """
    if not _DOT_RE.search(code):
        return None
    for dtype, name in _NO_NUMPY_TYPE.items():
        if dtype in dtypes:
            return (
                f"tl.dot on {name} operands is not faithful in the Triton interpreter (numpy has "
                f"no {name} type; bf16 dots measured with relative error ~1e10)"
            )
    return None


def install_shims(module: Any) -> None:
    """Replace the interpreter-broken globals of a loaded generated module."""
    if hasattr(module, "libdevice"):
        module.libdevice = LIBDEVICE_SHIM
