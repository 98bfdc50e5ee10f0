"""What changed between two versions of generated code: structural counts and a capped diff.

The counts come from Python's ``ast`` (generated Triton is Python): calls of ``tl.*`` functions
(``tl.load``, ``tl.store``, ``tl.dot``, ``tl.make_tensor_descriptor``, ``tl.atomic_add``...),
``.load``/``.store`` calls on tensor descriptors, loops inside ``@triton.jit`` functions, the
number of such kernels, and lines. Comments and strings never count. Code that does not parse
(a hand-edited golden) falls back to counting ``tl.name(`` with a regular expression.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter

#: Shown first in a summary, in this order, when they changed; other keys follow by name.
PRIORITY = (
    "kernels",
    "loops",
    "tl.dot",
    "tl.load",
    "tl.store",
    "tl.make_tensor_descriptor",
    "desc.load",
    "desc.store",
    "tl.atomic_add",
)
#: Lines of unified diff kept in a record; the rest is cut with a note saying how many.
DIFF_MAX_LINES = 300
#: Characters of unified diff kept in a record.
DIFF_MAX_CHARS = 30_000
_TL_CALL = re.compile(r"\btl\.(\w+)\s*\(")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_jit(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = _dotted(target) or ""
        if name.endswith("jit"):
            return True
    return False


def structure(code: str) -> dict[str, int]:
    """Counts of the structural features of ``code`` (keys: see the module docstring), with
    ``lines`` always present and other keys only when non-zero."""
    counts: Counter[str] = Counter()
    counts["lines"] = code.count("\n") + (0 if code.endswith("\n") or not code else 1)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        counts.update(f"tl.{m}" for m in _TL_CALL.findall(code))
        return dict(counts)
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and _is_jit(fn):
            counts["kernels"] += 1
            counts["loops"] += sum(isinstance(n, ast.For | ast.While) for n in ast.walk(fn))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        if name.startswith("tl."):
            counts[name] += 1
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("load", "store"):
            # Tensor-descriptor (TMA) accesses are method calls: x_desc.load([...]).
            counts[f"desc.{node.func.attr}"] += 1
    return dict(counts)


def _order(key: str) -> tuple[int, str]:
    return (PRIORITY.index(key), "") if key in PRIORITY else (len(PRIORITY), key)


def changed_counts(before: str, after: str) -> dict[str, tuple[int, int]]:
    """``{feature: (count before, count after)}`` for every feature whose count differs,
    in summary order (:data:`PRIORITY` first, ``lines`` last)."""
    a, b = structure(before), structure(after)
    keys = [*sorted((set(a) | set(b)) - {"lines"}, key=_order), "lines"]
    return {k: (a.get(k, 0), b.get(k, 0)) for k in keys if a.get(k, 0) != b.get(k, 0)}


def summary_line(changes: dict[str, tuple[int, int]], limit: int = 8) -> str:
    """One short line such as ``tl.dot 1 -> 2, tl.load 4 -> 6, lines 40 -> 55``; ``limit``
    features at most (the rest counted). ``no structural change`` when nothing moved."""
    if not changes:
        return "no structural change (same counts of loads, stores, dots, loops and lines)"
    parts = [f"{k} {a} -> {b}" for k, (a, b) in list(changes.items())[:limit]]
    if len(changes) > limit:
        parts.append(f"+{len(changes) - limit} more")
    return ", ".join(parts)


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> tuple[str, int]:
    """A unified diff (3 lines of context) from ``before`` to ``after``, capped at
    :data:`DIFF_MAX_LINES` lines and :data:`DIFF_MAX_CHARS` characters.

    Returns:
        ``(text, total_lines)``: the possibly cut diff (a cut one ends with a line saying how
        many lines were left out) and the number of lines of the whole diff.
    """
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
            n=3,
        )
    )
    lines = [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]
    total = len(lines)
    kept: list[str] = []
    size = 0
    for line in lines[:DIFF_MAX_LINES]:
        if size + len(line) > DIFF_MAX_CHARS:
            break
        kept.append(line)
        size += len(line)
    text = "".join(kept)
    if len(kept) < total:
        text += f"... diff cut: {total - len(kept)} of {total} lines left out\n"
    return text, total
