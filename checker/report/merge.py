"""Merging shards of results.jsonl (CI matrix jobs, separate runs) into one set of attempts.

A shard is one results.jsonl. Inputs may be files, directories (every ``results*.jsonl`` below
them) or zip archives (a CI artifact as the REST API serves it; same member rule). Reading never
raises on bad content: a missing, empty, truncated or malformed shard becomes a
:class:`CorruptEntry` naming the shard (and line), and its good lines still merge, so one broken
CI job cannot sink the report of the others.

Identity: a record's key is its pytest ``nodeid`` when it has one (execution cases and golden
checks have distinct node ids), else ``case.name`` plus ``mode``. A key seen more than once is a
rerun: every distinct attempt is kept, in input order. The same shard given twice, or a record
repeated byte-for-byte, is merged once, so no count doubles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from checker import collected
from checker.model import Record
from checker.report.validate import OtherKind, parse_record

#: Shard file names picked up inside directories and zip archives.
SHARD_GLOB = "results*.jsonl"
#: Largest shard read, in bytes (files and zip members alike, checked before reading, so a zip
#: bomb or a forged multi-gigabyte artifact becomes a report-corrupt entry, not an OOM kill).
MAX_SHARD_BYTES = 1024 * 1024 * 1024


def record_key(rec: Record) -> str:
    """Identity of the case a record belongs to, stable across shards, reruns and the baseline."""
    return rec.nodeid or f"{rec.case.name}@{rec.mode}"


@dataclass(frozen=True)
class CorruptEntry:
    """A shard, or one line of it, that could not be read. ``line`` is 1-based, None for the
    whole shard."""

    shard: str
    reason: str
    line: int | None = None

    def describe(self) -> str:
        where = f"{self.shard}:{self.line}" if self.line is not None else self.shard
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Shard:
    """The readable records of one results.jsonl plus what could not be read."""

    source: str
    records: tuple[Record, ...]
    corrupt: tuple[CorruptEntry, ...]
    digest: str
    #: Lines of other record kinds (timing records, checker/perf/), carried as read: they are
    #: no cases and are parsed by their own readers.
    other: tuple[bytes, ...] = ()


def parse_shard(source: str, data: bytes) -> Shard:
    """Parse the bytes of one results.jsonl named ``source`` (for messages).

    Each malformed line becomes a CorruptEntry (lines are checked by
    :func:`checker.report.validate.parse_record`: types, known categories, size); a last line
    without its newline that does not parse is reported as truncated (a run killed mid-write); a
    shard without any record is reported as empty.
    """
    records: list[Record] = []
    corrupt: list[CorruptEntry] = []
    other: list[bytes] = []
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            records.append(parse_record(raw))
        except OtherKind:
            other.append(raw.strip())
        except UnicodeDecodeError as exc:
            corrupt.append(CorruptEntry(source, f"not UTF-8: {exc.reason} at byte {exc.start}", lineno))
        except ValueError as exc:
            last = lineno == len(lines) and not data.endswith(b"\n")
            reason = f"truncated last line ({exc})" if last else str(exc)
            corrupt.append(CorruptEntry(source, reason, lineno))
    if not records and not corrupt and not other:
        corrupt.append(CorruptEntry(source, "empty shard: no records"))
    return Shard(source, tuple(records), tuple(corrupt), hashlib.sha256(data).hexdigest(), tuple(other))


def read_shards(paths: Iterable[Path]) -> list[Shard]:
    """Shards named by ``paths``: results.jsonl files, directories or zip archives of them.

    A path that does not exist, a directory or archive without shards and an unreadable archive
    each yield one Shard with a CorruptEntry (and no records) instead of raising.
    """
    shards: list[Shard] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob(SHARD_GLOB) if p.is_file())
            if not found:
                shards.append(_unreadable(str(path), f"no {SHARD_GLOB} inside"))
            shards.extend(_read_file(p) for p in found)
        elif path.suffix == ".zip":
            shards.extend(_read_zip(path))
        else:
            shards.append(_read_file(path))
    return shards


def _unreadable(source: str, reason: str) -> Shard:
    return Shard(source, (), (CorruptEntry(source, reason),), hashlib.sha256(source.encode()).hexdigest())


def _read_file(path: Path) -> Shard:
    try:
        size = path.stat().st_size
        if size > MAX_SHARD_BYTES:
            return _unreadable(str(path), f"{size:,} bytes, over the {MAX_SHARD_BYTES:,}-byte shard limit")
        data = path.read_bytes()
    except OSError as exc:
        return _unreadable(str(path), f"cannot read: {exc.strerror or exc}")
    return _with_lost(parse_shard(str(path), data), path.parent / collected.FILENAME)


def _with_lost(shard: Shard, listing: Path) -> Shard:
    """``shard`` plus a lost ``not-run`` record for each case that ``listing`` (the run's
    collected.json, when it has one) names and the shard has no record of: a run killed or
    interrupted before its end (checker/collected.py)."""
    if not listing.is_file():
        return shard
    try:
        ids = collected.read(listing)
    except (OSError, ValueError) as exc:
        return dataclasses.replace(shard, corrupt=(*shard.corrupt, CorruptEntry(str(listing), str(exc))))
    target = shard.records[0].target if shard.records else "-"
    lost = collected.lost_records(ids, shard.records, target)
    return dataclasses.replace(shard, records=(*shard.records, *lost)) if lost else shard


@dataclass(frozen=True)
class ZipMember:
    """A member of a zip archive that :func:`zip_members` read (``data``), or what kept it or the
    whole archive from being read (``problem``); ``source`` is ``archive!member``, or the
    archive's path for a problem with the whole archive."""

    source: str
    data: bytes | None = None
    problem: str | None = None


def zip_members(path: Path, globs: Sequence[str]) -> list[ZipMember]:
    """The members of zip archive ``path`` whose file name matches one of ``globs`` (a CI
    artifact as downloaded), in name order, each at most MAX_SHARD_BYTES. Never raises: an
    unreadable archive, one without such a member, a member over the limit and one that cannot
    be extracted (corrupt, encrypted) are each a :class:`ZipMember` with a ``problem``."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (
                    info
                    for info in archive.infolist()
                    if not info.is_dir() and any(PurePosixPath(info.filename).match(g) for g in globs)
                ),
                key=lambda info: info.filename,
            )
            if not members:
                return [ZipMember(str(path), problem=f"no {', '.join(globs)} inside the archive")]
            out = []
            for info in members:
                source = f"{path}!{info.filename}"
                if info.file_size > MAX_SHARD_BYTES:
                    problem = f"{info.file_size:,} bytes, over the {MAX_SHARD_BYTES:,}-byte shard limit"
                    out.append(ZipMember(source, problem=problem))
                    continue
                try:
                    out.append(ZipMember(source, data=archive.read(info)))
                except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
                    out.append(ZipMember(source, problem=f"cannot extract: {exc}"))
            return out
    except (zipfile.BadZipFile, OSError) as exc:
        return [ZipMember(str(path), problem=f"not a readable zip archive: {exc}")]


def _read_zip(path: Path) -> list[Shard]:
    return [
        parse_shard(m.source, m.data) if m.data is not None else _unreadable(m.source, m.problem or "")
        for m in zip_members(path, (SHARD_GLOB,))
    ]


@dataclass(frozen=True)
class MergedRun:
    """Every distinct attempt of every case, in input order, plus what could not be read.

    ``attempts`` maps :func:`record_key` to the attempts of that case (more than one: a rerun).
    ``duplicate_shards`` names shards skipped because an identical shard was already merged.
    """

    records: tuple[Record, ...]
    attempts: dict[str, tuple[Record, ...]]
    corrupt: tuple[CorruptEntry, ...]
    shards: tuple[str, ...]
    duplicate_shards: tuple[str, ...] = field(default=())
    #: Lines of other record kinds (timing records) of every shard, each distinct line once.
    other: tuple[bytes, ...] = field(default=())

    @property
    def reruns(self) -> int:
        """Attempts beyond the first, over all cases."""
        return sum(len(a) - 1 for a in self.attempts.values())


def merge(shards: Sequence[Shard]) -> MergedRun:
    """Merge shards: identical shards and identical records count once; reruns are kept."""
    seen_digests: dict[str, str] = {}
    seen_records: set[str] = set()
    records: list[Record] = []
    attempts: dict[str, list[Record]] = {}
    corrupt: list[CorruptEntry] = []
    used: list[str] = []
    duplicates: list[str] = []
    other: dict[bytes, None] = {}
    for shard in shards:
        if shard.digest in seen_digests:
            duplicates.append(f"{shard.source} (same content as {seen_digests[shard.digest]})")
            continue
        seen_digests[shard.digest] = shard.source
        used.append(shard.source)
        corrupt.extend(shard.corrupt)
        other.update(dict.fromkeys(shard.other))
        for rec in shard.records:
            text = rec.to_json()
            if text in seen_records:
                continue
            seen_records.add(text)
            records.append(rec)
            attempts.setdefault(record_key(rec), []).append(rec)
    return MergedRun(
        records=tuple(records),
        attempts={k: tuple(v) for k, v in attempts.items()},
        corrupt=tuple(corrupt),
        shards=tuple(used),
        duplicate_shards=tuple(duplicates),
        other=tuple(other),
    )
