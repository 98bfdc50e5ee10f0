"""Interpreter gaps: the libdevice shim, the bf16 dot widening and the fp8-conversion rule."""

from __future__ import annotations

import pytest
import torch

from checker import interpreter


def test_fp8_conversion_rule() -> None:
    cast = "x = tl.cast(v_0, tl.float8e4nv)\n"
    assert interpreter.unsupported_reason(cast, {torch.float32}) is not None
    # Helion's identity casts around fp8 dots: inputs already fp8.
    assert interpreter.unsupported_reason(cast, {torch.float8_e4m3fn, torch.float32}) is None
    assert interpreter.unsupported_reason("y = tl.dot(a, b)\n", {torch.bfloat16}) is None


def test_unknown_libdevice_function_is_an_interpreter_gap() -> None:
    with pytest.raises(interpreter.InterpreterGap, match=r"libdevice\.tanh"):
        _ = interpreter.LIBDEVICE_SHIM.tanh
    assert callable(interpreter.LIBDEVICE_SHIM.rsqrt)
