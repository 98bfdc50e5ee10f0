"""Reading one results.jsonl line as untrusted input: a Record, or a ValueError saying why not.

``kcheck report`` merges shards written by CI jobs, and ``kcheck post`` reads an artifact that a
pull request's own code produced, so nothing in a line is taken on faith. :func:`parse_record`
checks, before :meth:`checker.model.Record.from_json` builds the record, that the line:

- is at most :data:`MAX_RECORD_BYTES` long and a JSON object (not a list, a number) whose
  arrays and objects nest at most :data:`MAX_DEPTH` deep (:func:`loads`): every reader of
  records (report, post, triage, compare, plot, bench) goes through that check, so no writer,
  renderer or ``dataclasses.asdict`` down the line can hit Python's recursion limit;
- has this schema version, no key a Record does not have, and every key a Record needs;
- has the JSON type each field is rendered with: strings where reports print strings, numbers
  (never booleans) where they format numbers, a known :class:`~checker.categories.Category`.

Anything else is a ``ValueError`` whose message is short (hostile keys and values are shown
through ``repr`` and cut), so the caller records a ``report-corrupt`` entry and goes on; a record
that cannot be read is never silently dropped and never a traceback. Sizes of strings are not
limited here: every writer cuts what it shows (:mod:`checker.escape`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from checker.categories import Category
from checker.model import OTHER_KINDS, SCHEMA_VERSION, Mode, Record

#: Longest results.jsonl line read, in bytes. A real record is a few KiB (messages are cut to
#: 20,000 characters when recorded, golden diffs are bounded); a longer line is rejected before
#: it is parsed (readers drop it while reading, :func:`checker.results.jsonl.scan_lines`), so one
#: forged line cannot make a report take gigabytes of memory.
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: Deepest nesting of arrays and objects in a line (the line itself is depth 1). A real record
#: nests 4 deep (``fields`` -> ``metrics``, ``config`` -> ``loop_orders`` -> a list); 600 levels
#: of ``fields`` made every reader end in RecursionError (``Record`` cleans its text fields
#: recursively, ``dataclasses.asdict`` copies them recursively, about 2-3 Python frames per
#: level against a limit of 1,000). 64 leaves room for any real config and stays far below that.
MAX_DEPTH = 64

_CATEGORIES = frozenset(c.value for c in Category)
_RECORD_KEYS = frozenset(f.name for f in dataclasses.fields(Record))
_REQUIRED = frozenset(
    f.name
    for f in dataclasses.fields(Record)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_CASE_KEYS = frozenset({"kernel", "shape", "dtype", "config", "name"})
_COMPARISON_NUMBERS = ("max_abs_err", "max_rel_err", "rtol", "atol")
_COMPARISON_INTS = ("mismatches", "numel")


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _opt(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(_is_str(v) for v in value.values())


def _number_map(value: object) -> bool:
    return isinstance(value, dict) and all(_is_number(v) for v in value.values())


_MODES = frozenset(m.value for m in Mode)

#: Top-level fields and what each must be. A field a Record gains later and that is not listed
#: here is left to Record.from_json (it still rejects keys it does not know).
_FIELD_CHECKS: Mapping[str, tuple[Callable[[object], bool], str]] = {
    "mode": (lambda v: isinstance(v, str) and v in _MODES, f"one of {', '.join(sorted(_MODES))}"),
    "target": (_is_str, "a string"),
    "config": (_opt(lambda v: isinstance(v, dict)), "an object or null"),
    "config_repr": (_opt(_is_str), "a string or null"),
    "toolchain": (_str_map, "an object of strings"),
    "duration_s": (_is_number, "a number"),
    "stages": (_number_map, "an object of numbers"),
    "message": (_is_str, "a string"),
    "signature": (_opt(_is_str), "a string or null"),
    "fields": (lambda v: isinstance(v, dict), "an object"),
    "repro": (_opt(_is_str), "a string or null"),
    "options": (_opt(lambda v: isinstance(v, dict)), "an object or null"),
    "nodeid": (_opt(_is_str), "a string or null"),
    "worker": (_opt(_is_str), "a string or null"),
}


def _check_case(case: object) -> None:
    if not isinstance(case, dict):
        raise ValueError(f"'case' is {_kind(case)}, not an object")
    unknown = sorted(set(case) - _CASE_KEYS)
    if unknown:
        raise ValueError(f"'case' has unknown key {_show(unknown[0])}")
    for key in ("kernel", "dtype", "config"):
        if not _is_str(case.get(key)):
            raise ValueError(f"'case.{key}' is {_kind(case.get(key))}, not a string")
    if "name" in case and not _is_str(case["name"]):
        raise ValueError("'case.name' is not a string")
    shape = case.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
        raise ValueError("'case.shape' is not an array of integers")


def _check_comparison(cmp: object) -> None:
    if cmp is None:
        return
    if not isinstance(cmp, dict):
        raise ValueError(f"'comparison' is {_kind(cmp)}, not an object or null")
    for key in _COMPARISON_NUMBERS:
        if key in cmp and not _is_number(cmp[key]):
            raise ValueError(f"'comparison.{key}' is {_kind(cmp[key])}, not a number")
    for key in _COMPARISON_INTS:
        if key in cmp and not _is_int(cmp[key]):
            raise ValueError(f"'comparison.{key}' is {_kind(cmp[key])}, not an integer")
    for key in ("worst_actual", "worst_expected"):
        if cmp.get(key) is not None and not _is_number(cmp[key]):
            raise ValueError(f"'comparison.{key}' is {_kind(cmp[key])}, not a number or null")
    index = cmp.get("worst_index")
    if index is not None and not (isinstance(index, list) and all(_is_int(i) for i in index)):
        raise ValueError("'comparison.worst_index' is not an array of integers or null")
    if "tolerance_source" in cmp and not _is_str(cmp["tolerance_source"]):
        raise ValueError("'comparison.tolerance_source' is not a string")


class OtherKind(ValueError):
    """The line is a record of another kind (:data:`checker.model.OTHER_KINDS`: a timing
    record), not a case record: readers of cases skip it, it is not corrupt."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"a {kind!r} record, not a case record")
        self.kind = kind


def check(data: Any) -> None:
    """Raise ``ValueError`` unless ``data`` (one parsed JSON line) is a well-formed record
    (:class:`OtherKind` for a line of another record kind)."""
    if not isinstance(data, dict):
        raise ValueError(f"a record must be a JSON object, not {_kind(data)}")
    kind = data.get("kind")
    if isinstance(kind, str) and kind in OTHER_KINDS:
        raise OtherKind(kind)
    schema = data.get("schema")
    if not _is_int(schema) or schema != SCHEMA_VERSION:
        raise ValueError(f"record schema {_show(schema)}, expected {SCHEMA_VERSION}")
    unknown = sorted(set(data) - _RECORD_KEYS)
    if unknown:
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        raise ValueError(f"unknown record key {_show(unknown[0])}{more}")
    missing = sorted(_REQUIRED - set(data))
    if missing:
        raise ValueError(f"record lacks {', '.join(missing)}")
    category = data["category"]
    if not _is_str(category) or category not in _CATEGORIES:
        raise ValueError(f"unknown category {_show(category)}")
    _check_case(data["case"])
    for key, (ok, want) in _FIELD_CHECKS.items():
        if key in data and not ok(data[key]):
            raise ValueError(f"{key!r} is {_kind(data[key])}, not {want}")
    _check_comparison(data.get("comparison"))
    duration = data["duration_s"]
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"'duration_s' is {_show(duration)}, not a finite number >= 0")


def depth(data: Any, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in ``data`` (a scalar is 0, ``[]`` is 1), counted without
    recursion; counting stops at ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def loads(line: str | bytes, what: str = "record") -> Any:
    """One JSON line, bounded: at most :data:`MAX_RECORD_BYTES`, valid UTF-8 and JSON, nested at
    most :data:`MAX_DEPTH` deep. The parsed value (any JSON type).

    Raises:
        ValueError: a short reason naming ``what`` (the line's own text is never echoed);
            ``UnicodeDecodeError`` (a ValueError) for bytes that are not UTF-8.
    """
    size = len(line) if isinstance(line, bytes) else len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"{what} of {size:,} bytes, over the {MAX_RECORD_BYTES:,}-byte limit")
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON {what}: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"not a JSON {what}: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ValueError(f"not a JSON {what}: {str(exc)[:120]}") from None
    if depth(data) > MAX_DEPTH:
        raise ValueError(f"{what} nested more than {MAX_DEPTH} deep (arrays and objects)")
    return data


def parse_record(line: str | bytes) -> Record:
    """The Record of one results.jsonl line, checked as described in the module docstring.

    Raises:
        ValueError: a short reason (the line's own text is never echoed unbounded).
    """
    data = loads(line)
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    check(data)
    try:
        return Record.from_json(text)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"malformed record: {str(exc)[:200]}") from None
