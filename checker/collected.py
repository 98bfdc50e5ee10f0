"""What a run collected, written before any case runs, so a truncated run cannot look complete.

``collected.json`` beside ``results.jsonl`` lists the node ids of every kcheck item the run
selected (after ``-k``, ``-m`` and ``--shard``), with their count and a digest. A case that was
collected but has no record (the run was interrupted with SIGINT, killed, ended by ``os._exit``,
or lost an xdist worker for good) gets a ``not-run`` record with ``fields["reason"] == "lost"``:
from the pytest plugin at the end of the session when it gets there, and from ``kcheck report``
otherwise. A lost record fails the run (:attr:`checker.model.Record.failed`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from checker.atomic import write_atomic
from checker.categories import Category
from checker.model import LOST, CaseId, Mode, Record, new_record

FILENAME = "collected.json"
#: Item names the kcheck plugin gives: cases, golden cases, collection errors.
_PARAM = r"(?P<shape>\d+(?:x\d+)*)-(?P<dtype>\w+?)-(?P<config>[a-z0-9_]+)\]$"
_CASE = re.compile(r"^(?P<kernel>[a-z][a-z0-9_]*)\[" + _PARAM)
_GOLDEN = re.compile(r"^golden\[(?P<kernel>[a-z][a-z0-9_]*?)-" + _PARAM)
_COLLECTION = re.compile(r"^(?:(?P<kernel>[a-z][a-z0-9_]*)\[collection\]|collection)$")


def _match(pattern: re.Pattern[str], name: str) -> CaseId | None:
    m = pattern.match(name)
    if m is None:
        return None
    return CaseId(m["kernel"], tuple(int(d) for d in m["shape"].split("x")), m["dtype"], m["config"])


def execution_case(nodeid: str) -> CaseId | None:
    """The case of an execution item's node id (``...::rms_norm[33x128-bf16-cfg3]``), else None."""
    return _match(_CASE, nodeid.rsplit("::", 1)[-1])


def case_of(nodeid: str) -> tuple[CaseId, Mode] | None:
    """The case and record mode a kcheck node id stands for (``lost`` for an execution case,
    ``golden``, ``collection``), or None for other items."""
    name = nodeid.rsplit("::", 1)[-1]
    for pattern, mode in ((_CASE, Mode.LOST), (_GOLDEN, Mode.GOLDEN)):
        case = _match(pattern, name)
        if case is not None:
            return case, mode
    m = _COLLECTION.match(name)
    if m:
        kernel = m["kernel"] or Path(nodeid.split("::", 1)[0]).stem
        return CaseId(kernel, (), "", "collection"), Mode.COLLECTION
    return None


def write(reports_dir: Path, nodeids: Iterable[str]) -> list[str]:
    """Write ``collected.json`` (atomically) with the kcheck node ids among ``nodeids``; return them.

    Raises:
        OSError: the file cannot be written.
    """
    ids = sorted({n for n in nodeids if case_of(n) is not None})
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    data = {"schema": 1, "count": len(ids), "sha256": digest, "nodeids": ids}
    write_atomic(reports_dir / FILENAME, (json.dumps(data, indent=0) + "\n").encode())
    return ids


#: Largest collected.json read, bytes: a node id is about 80 bytes, so this lists some 400,000
#: cases; a bigger (forged) one is refused before it is parsed.
MAX_BYTES = 32 * 1024 * 1024


def read(path: Path) -> list[str]:
    """The node ids of a ``collected.json``.

    Raises:
        ValueError: the file is not a collected list, or its count or digest does not match, or
            it is over :data:`MAX_BYTES`.
        OSError: it cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    try:
        return parse(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def parse(data: bytes) -> list[str]:
    """The node ids of the bytes of a ``collected.json`` (from a file or a zip member).

    Raises:
        ValueError: a short reason: over :data:`MAX_BYTES`, not JSON (or nested too deeply), not
            a collected list, or its count or digest does not match its node ids.
    """
    if len(data) > MAX_BYTES:
        raise ValueError(f"over the {MAX_BYTES:,}-byte limit of a collected-cases file")
    try:
        parsed: Any = json.loads(data.decode("utf-8"))
        ids = parsed["nodeids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise TypeError("nodeids is not a list of strings")
    except RecursionError:
        raise ValueError("not a collected-cases file: nested too deeply") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and Python's digit limit.
        raise ValueError(f"not a collected-cases file: {str(exc)[:200]}") from None
    digest = hashlib.sha256("\n".join(sorted(ids)).encode("utf-8", "surrogatepass")).hexdigest()
    if parsed.get("count") != len(ids) or parsed.get("sha256") != digest:
        raise ValueError("count or digest does not match its node ids")
    return ids


def lost_records(collected: Iterable[str], records: Iterable[Record], target: str) -> list[Record]:
    """A ``not-run`` record (reason ``lost``) for each collected node id without a record."""
    have = {r.nodeid for r in records}
    lost: list[Record] = []
    for nodeid in collected:
        if nodeid in have:
            continue
        found = case_of(nodeid)
        if found is None:
            continue
        case, mode = found
        lost.append(
            new_record(
                case,
                Category.NOT_RUN,
                mode,
                target,
                message=(
                    f"{nodeid} was collected but no record arrived: the run was interrupted or "
                    "killed, or the worker that had the case was lost"
                ),
                signature=f"{Category.NOT_RUN.value}-{LOST}",
                fields={"reason": LOST},
                nodeid=nodeid,
            )
        )
    return lost
