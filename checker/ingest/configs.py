"""Helion ``Config(...)`` text in a log -> the config as a dict, without evaluating anything."""

from __future__ import annotations

import ast
import hashlib
from typing import Any

#: Longest config text parsed, characters. Real configs are under 1,000; a longer one is kept as
#: text only, so a forged line cannot make the parser build a huge syntax tree.
MAX_CONFIG_CHARS = 20_000


def find_config_call(text: str) -> str | None:
    """The first ``Config(...)`` (or ``helion.Config(...)``) in ``text`` with balanced
    parentheses, e.g. from ``@helion.kernel(config=helion.Config(num_warps=4), static_shapes=True)``;
    None when there is none or it is not closed."""
    start = text.find("Config(")
    if start < 0:
        return None
    if text[:start].endswith("helion."):
        start -= len("helion.")
    depth = 0
    quote: str | None = None
    for i in range(text.index("(", start), len(text)):
        ch = text[i]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def parse_config(text: str) -> dict[str, Any] | None:
    """The keyword arguments of a ``Config(k=v, ...)`` repr as a dict of Python literals
    (lists, numbers, strings, booleans, None), or None when ``text`` is not such a call.

    Only literals are accepted (``ast.literal_eval`` per value): nothing in a log is executed.
    """
    if len(text) > MAX_CONFIG_CHARS:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    call = tree.body
    if not isinstance(call, ast.Call) or call.args:
        return None
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name != "Config":
        return None
    out: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:  # **kwargs: not a repr Helion writes
            return None
        try:
            out[kw.arg] = _jsonable(ast.literal_eval(kw.value))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None
    return out


def _jsonable(value: Any) -> Any:
    # Tuples become lists: the record is JSON, and helion.Config accepts either.
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset | bytes | complex):
        return repr(value)
    return value


def config_label(config_repr: str) -> str:
    """A short stable name for a config in case names: ``cfg`` + 8 hex digits of its text."""
    digest = hashlib.sha256(config_repr.encode("utf-8", "backslashreplace")).hexdigest()
    return f"cfg{digest[:8]}"
