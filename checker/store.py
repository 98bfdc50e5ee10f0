"""The cache directory's storage: one JSON file per key, written atomically, pruned by age.

Every kind of cached result (compile verdicts, checker.cache; generated code, sampled configs and
interpreter verdicts, checker.stage_cache) lives under one root as
``<root>/<kind>/<2 hex>/<key>.json``. A cache directory may be restored from a CI cache, which is
untrusted input: entries are parsed as JSON only (never pickle), read up to
:data:`MAX_ENTRY_BYTES`, and an entry its kind's decoder rejects is removed so the next store
replaces it. Entries are written to a temp file beside the entry and renamed over it
(checker.report.atomic), so concurrent writers (xdist workers, several runs) and a writer killed
with SIGKILL never leave a half-written entry under an entry's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from checker.report.atomic import write_atomic

#: Entries larger than this (bytes) are not read: no entry is that large (generated code is
#: tens of KiB), and an untrusted directory must not make a run parse gigabytes.
MAX_ENTRY_BYTES = 1 << 20
#: Seconds after which a leftover temp file (a writer killed mid-write) is removed by prune.
STALE_TEMP_S = 3600.0
#: Every kind of entry under a cache root (the subdirectory names).
KINDS = ("compile", "codegen", "samples", "run")

T = TypeVar("T")


class BadEntry(ValueError):
    """A cache entry that is not what its kind stores (corrupt, truncated, foreign or forged)."""


@dataclass(frozen=True)
class EntryStore:
    """The entries of one ``kind`` (one of :data:`KINDS`) under cache directory ``root``."""

    root: Path
    kind: str

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` (hex digits) lives."""
        return self.root / self.kind / key[:2] / f"{key}.json"

    def get(self, key: str, decode: Callable[[Any], T]) -> T | None:
        """``decode(data)`` of the entry of ``key``, None on a miss. An entry that is too large,
        not JSON, or that ``decode`` rejects (raises BadEntry, ValueError, TypeError, KeyError,
        AttributeError) is removed and is a miss. A hit touches the entry (least recently used
        entries are pruned first). Never raises for what is in the directory."""
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                data = f.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
        try:
            if len(data) > MAX_ENTRY_BYTES:
                raise BadEntry("too large")
            value = decode(json.loads(data))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            # BadEntry, UnicodeDecodeError and JSONDecodeError are ValueErrors.
            _discard(path, inode)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return value

    def put(self, key: str, entry: Any) -> bool:
        """Store the JSON-able ``entry`` under ``key``; True if stored. A directory that cannot be
        written, or an entry JSON cannot hold, is no error: the run goes on uncached."""
        try:
            write_atomic(self.path(key), json.dumps(entry, sort_keys=True).encode())
        except (OSError, ValueError, TypeError):
            return False
        return True


def _discard(path: Path, inode: int) -> None:
    """Remove a bad entry, unless another process already replaced it with a new file."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


def _entries(root: Path) -> Iterator[os.DirEntry[str]]:
    for kind in KINDS:
        with contextlib.suppress(OSError), os.scandir(root / kind) as buckets:
            for bucket in buckets:
                if not bucket.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError), os.scandir(bucket.path) as files:
                    yield from (f for f in files if f.is_file(follow_symlinks=False))


def prune(root: str | os.PathLike[str], max_bytes: int) -> list[Path]:
    """Keep the cache at ``root`` within ``max_bytes`` (all kinds together): remove least
    recently used entries (oldest mtime first; a hit touches its entry) until the rest fit, and
    temp files older than STALE_TEMP_S (writers killed mid-write). Returns the removed paths.
    Run once per run, by the controller at its end; entries written concurrently by another run
    are at worst removed."""
    now = time.time()
    removed: list[Path] = []
    entries: list[tuple[float, int, str]] = []
    for entry in _entries(Path(root)):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if entry.name.endswith(".json"):
            entries.append((st.st_mtime, st.st_size, entry.path))
        elif entry.name.endswith(".tmp") and now - st.st_mtime > STALE_TEMP_S:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed.append(Path(path))
        total -= size
    return removed
