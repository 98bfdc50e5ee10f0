"""What commands add to a run's records and later runs carry forward: the minimal failing
configs ``kcheck minimize`` finds.

``kcheck minimize`` stores its result in the record (``fields.minimal_config``,
``fields.minimal_config_search``) and also here, in ``<reports-dir>/minimal.jsonl`` beside the
run directories (checker/results/runs.py), one JSON object a line keyed by case name, category
and signature; the last line of a key wins. A later run's record of the same case failing the
same way (same category and signature) gets those fields when the controller records it, so
``kcheck triage``, the terminal summary and the PR comment show it after the run that found it
was replaced as ``latest`` or pruned.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from checker.atomic import write_atomic
from checker.model import Record

#: The file, in the reports directory's root.
FILENAME = "minimal.jsonl"
#: The record fields carried.
FIELDS = ("minimal_config", "minimal_config_search")
#: Largest file read, bytes; a bigger one is ignored (a minimal config is well under 4 KiB).
MAX_BYTES = 16 * 1024 * 1024

Key = tuple[str, str, str]


def key_of(record: Record) -> Key:
    """The key a stored result belongs to: (case name, category, signature)."""
    return record.case.name, record.category.value, record.signature or ""


def load(root: Path) -> dict[Key, dict[str, Any]]:
    """The stored fields of ``root``'s ``minimal.jsonl`` by key; empty when there is none or it
    cannot be read (an unreadable line is skipped: carrying is a convenience, never a failure)."""
    path = root / FILENAME
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return {}
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    found: dict[Key, dict[str, Any]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            key = (str(entry["case"]), str(entry["category"]), str(entry["signature"]))
            fields = {k: entry["fields"][k] for k in FIELDS}
        except (ValueError, KeyError, TypeError):
            continue
        found[key] = fields
    return found


def store(root: Path, record: Record) -> None:
    """Append ``record``'s carried fields to ``root``'s ``minimal.jsonl`` (replaced atomically).

    Raises:
        OSError: the file cannot be written.
    """
    path = root / FILENAME
    old = path.read_bytes() if path.is_file() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    case, category, signature = key_of(record)
    entry = {
        "case": case,
        "category": category,
        "signature": signature,
        "fields": {k: record.fields.get(k) for k in FIELDS},
    }
    write_atomic(path, old + (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))


def carry(record: Record, stored: dict[Key, dict[str, Any]]) -> Record:
    """``record`` with the stored fields of its key, when it failed, has none of its own and a
    result is stored; else ``record`` itself."""
    if not record.failed or any(k in record.fields for k in FIELDS):
        return record
    fields = stored.get(key_of(record))
    if fields is None:
        return record
    return dataclasses.replace(record, fields={**record.fields, **fields})
