"""Running generated Triton under the Triton interpreter (TRITON_INTERPRET=1) on CPU.

Two measured gaps of the interpreter (triton 3.6, 2026-11) must not be reported as kernel bugs:

* ``libdevice`` calls (``libdevice.rsqrt``, ``libdevice.exp``...) return None, because the
  interpreter patches ``triton.language`` but not ``triton.language.extra.libdevice``. Where a
  ``tl.math`` builtin computes the same function, :data:`LIBDEVICE_SHIM` routes the call there
  (sound: the interpreter evaluates both with numpy in the same precision). Other functions raise
  :class:`InterpreterGap`.
* ``tl.dot`` on bf16 operands comes back with relative error ~1e10: the interpreter hands
  bf16's uint16 storage to numpy. :func:`_patch_bf16_dot` widens the operands to fp32 first
  (exact, and what the hardware's fp32 accumulation computes).
* Converting values to fp8 inside a kernel rounds wrongly; :func:`unsupported_reason` names
  such cases before they run so they are recorded as ``interpreter-unsupported``.
* The interpreter's fp32 -> bf16 cast truncates instead of rounding to nearest, doubling bf16
  output error; bf16 tolerances allow for it.
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

_FP8_CAST_RE = re.compile(r"tl\.cast\([^\n]*?,\s*tl\.float8\w*\)|\.to\(tl\.float8\w*\)")
_FP8 = {torch.float8_e4m3fn, torch.float8_e5m2}


def unsupported_reason(code: str, dtypes: set[torch.dtype]) -> str | None:
    """Why ``code`` cannot be checked under the interpreter with inputs of ``dtypes``, or None.

    ``dtypes`` are the dtypes of the kernel's tensor arguments. Measured with triton 3.6: fp8
    loads and dots are exact, but converting fp32/fp16/bf16 values *to* fp8 inside a kernel goes
    wrong when rounding carries into the next power of two (1.9398 -> 1.0; 1783 of 65536 randn
    values wrong). Helion emits casts of values that already are fp8 around fp8 dots, which are
    harmless, so a kernel is refused only when it casts to fp8 and takes no fp8 input: its fp8
    values must come from a conversion. (A kernel with fp8 inputs that also converts other
    values to fp8 is not detected.)
    """
    if _FP8_CAST_RE.search(code) and not dtypes & _FP8:
        return (
            "converting to fp8 inside a kernel is not faithful in the Triton interpreter (values "
            "whose rounding carries into the next power of two come out wrong, e.g. 1.9398 -> 1.0)"
        )
    return None


_bf16_dot_patched = False


def _patch_bf16_dot() -> None:
    """Make the interpreter's ``tl.dot`` widen bf16 operands to fp32 before numpy's matmul.

    Triton 3.6 stores bf16 as uint16 and hands the raw integers to ``np.matmul`` (relative error
    ~1e10 measured). Widening is exact (bf16 is the top half of an fp32), and a GPU multiplies
    bf16 operands exactly into an fp32 accumulator, so the patched dot computes what the
    hardware does: measured relative error 3e-8 on 16x16 inputs afterwards.
    """
    global _bf16_dot_patched
    if _bf16_dot_patched:
        return
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter as ti

    original = ti.InterpreterBuilder.create_dot

    def widen(handle: Any) -> Any:
        if handle.dtype != tl.bfloat16:
            return handle
        data = ti._convert_float(handle.data, tl.bfloat16, tl.float32, None).view(np.float32)
        return ti.TensorHandle(data, tl.float32)

    def create_dot(self: Any, a: Any, b: Any, d: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, widen(a), widen(b), d, *args, **kwargs)

    ti.InterpreterBuilder.create_dot = create_dot
    _bf16_dot_patched = True


def install_shims(module: Any) -> None:
    """Replace the interpreter-broken globals of a loaded generated module, and patch the
    interpreter's bf16 dot (once per process)."""
    _patch_bf16_dot()
    if hasattr(module, "libdevice"):
        module.libdevice = LIBDEVICE_SHIM
