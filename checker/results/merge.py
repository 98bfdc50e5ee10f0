"""Merging shards of results.jsonl (CI matrix jobs, separate runs) into one set of attempts.

A shard is one results.jsonl. Inputs may be files, directories (every ``results*.jsonl`` below
them) or zip archives (a CI artifact as the REST API serves it; same member rule). A zip archive
is read exactly as the directory it unpacks to: the same members in the same order, and a
shard's ``collected.json`` (the cases its run collected, checker/collected.py) is the one in its
own directory, inside the archive or on disk, so the cases a killed run lost count either way.

Reading never raises on bad content and never takes memory in proportion to what a hostile
input expands to: every file and zip member is streamed line by line
(:class:`checker.results.jsonl.LineScanner`: bounded lines, at most ``MAX_LINES`` of them); a
file over :data:`MAX_SHARD_BYTES`, a zip member that declares more, or one that declares more
than :data:`MAX_INFLATE_RATIO` times its compressed size (a zip bomb: a megabyte of compressed
newlines declaring a gigabyte) is refused before it is read; only regular files are opened (a
FIFO would block). A missing, empty, truncated, oversized or malformed shard becomes a
:class:`CorruptEntry` naming the shard (and line), and its good lines still merge, so one broken
CI job cannot sink the report of the others.

Identity: a record's key is its pytest ``nodeid`` when it has one (execution cases and golden
checks have distinct node ids), else ``case.name`` plus ``mode``. A key seen more than once is a
rerun: every distinct attempt is kept, in input order. The same shard given twice, or a record
repeated byte-for-byte, is merged once, so no count doubles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from checker import collected
from checker.model import Record
from checker.results import runs
from checker.results.jsonl import LineScanner
from checker.results.validate import MAX_RECORD_BYTES, OtherKind, parse_record

#: Shard file names picked up inside directories and zip archives.
SHARD_GLOB = "results*.jsonl"
#: Largest shard read, in bytes (files and zip members alike, checked before reading, so a zip
#: bomb or a forged multi-gigabyte artifact becomes a report-corrupt entry, not an OOM kill).
MAX_SHARD_BYTES = 1024 * 1024 * 1024
#: Largest ratio of a zip member's declared size to its compressed size that is read (for members
#: declaring over :data:`RATIO_FLOOR_BYTES`). Measured: real results.jsonl files compress 12-21
#: times (deflate), a shard of one record repeated 20,000 times 187 times; deflate's ceiling is
#: about 1,032 and a zip of newlines reaches it. Refusing above 400 keeps every real artifact
#: and stops a bomb before a byte of it is inflated. (Memory is bounded anyway by streaming;
#: this bounds the time spent inflating what no run writes.)
MAX_INFLATE_RATIO = 400
#: Members declaring at most this much are read whatever their ratio, exactly as the same file in
#: a directory would be (a shard with one forged 4 MiB line of one repeated byte is 800 to 1):
#: inflating 64 MiB takes a tenth of a second and streaming keeps its memory bounded.
RATIO_FLOOR_BYTES = 64 * 1024 * 1024
#: Unreadable lines listed per shard; past this they are counted in one more entry, so a shard of
#: millions of garbage lines costs a bounded list, not one entry per line.
MAX_CORRUPT_PER_SHARD = 1000
#: The reason of a shard that holds no line at all (a known-failures file may be empty).
EMPTY_SHARD = "empty shard: no records"


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
    """Parse the bytes of one results.jsonl named ``source`` (for messages); as
    :func:`parse_stream`."""
    return parse_stream(source, io.BytesIO(data))


def parse_stream(source: str, stream: BinaryIO, verb: str = "read") -> Shard:
    """Parse one results.jsonl read from the binary ``stream``, line by line in bounded memory.

    Each malformed line becomes a CorruptEntry (lines are checked by
    :func:`checker.results.validate.parse_record`: types, known categories, size, nesting); a
    line over :data:`~checker.results.validate.MAX_RECORD_BYTES` is dropped while it is read; a
    last line without its newline that does not parse is reported as truncated (a run killed
    mid-write); a shard without any record is reported as empty. At most
    :data:`MAX_CORRUPT_PER_SHARD` unreadable lines are listed (the rest counted) and at most
    :data:`~checker.results.jsonl.MAX_LINES` lines read. A stream that fails part way (a zip
    member's bad CRC or corrupt data, an I/O error) keeps the lines read before and gets a
    ``cannot {verb}`` entry.
    """
    records: list[Record] = []
    corrupt: list[CorruptEntry] = []
    other: list[bytes] = []
    unlisted = 0
    digest = hashlib.sha256()
    scanner = LineScanner(stream, max_line=MAX_RECORD_BYTES, digest=digest)

    def bad(reason: str, lineno: int) -> None:
        nonlocal unlisted
        if len(corrupt) < MAX_CORRUPT_PER_SHARD:
            corrupt.append(CorruptEntry(source, reason, lineno))
        else:
            unlisted += 1

    try:
        for line in scanner:
            raw = line.data
            if raw is None:
                reason = f"record of {line.length:,} bytes, over the {MAX_RECORD_BYTES:,}-byte limit"
                bad(reason, line.number)
                continue
            if not raw.strip():
                continue
            try:
                records.append(parse_record(raw))
            except OtherKind:
                other.append(raw.strip())
            except UnicodeDecodeError as exc:
                bad(f"not UTF-8: {exc.reason} at byte {exc.start}", line.number)
            except ValueError as exc:
                bad(str(exc) if line.terminated else f"truncated last line ({exc})", line.number)
    except READ_ERRORS as exc:
        corrupt.append(CorruptEntry(source, f"cannot {verb}: {_reason(exc)}"))
    if unlisted:
        corrupt.append(CorruptEntry(source, f"{unlisted:,} more unreadable lines, not listed"))
    if scanner.truncated_at is not None:
        reason = f"over {scanner.max_lines:,} lines: not read from here on"
        corrupt.append(CorruptEntry(source, reason, scanner.truncated_at))
    if not records and not corrupt and not other:
        corrupt.append(CorruptEntry(source, EMPTY_SHARD))
    return Shard(source, tuple(records), tuple(corrupt), digest.hexdigest(), tuple(other))


#: What reading a zip member or a file can raise besides Refused: the I/O, a corrupt or
#: encrypted member, a bad CRC (BadZipFile at the end), a compression method zipfile lacks.
READ_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    zipfile.BadZipFile,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
)


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split())[:300]


# -- inputs: files, directories and zip archives, read the same way ---------------------------


class Refused(ValueError):
    """A file or zip member that is not read at all (not a regular file, over a limit)."""


@dataclass(frozen=True)
class Member:
    """One file an input path stands for: the file itself, a file below a directory, or a
    member of a zip archive. ``open()`` gives a binary stream (raising :class:`Refused` or
    OSError / zipfile errors); ``problem`` instead says why there is nothing to open (an
    unreadable archive, no matching file). ``listing`` is the ``collected.json`` of the member's
    own directory, when there is one. ``source`` names it: a path, or ``archive!member``."""

    source: str
    open: Callable[[], contextlib.AbstractContextManager[BinaryIO]] | None = None
    problem: str | None = None
    listing: Member | None = None
    #: A zip member (what fails is "extracting" it), else a file.
    archived: bool = False

    @property
    def verb(self) -> str:
        return "extract" if self.archived else "read"


@contextlib.contextmanager
def open_regular(path: Path, limit: int = MAX_SHARD_BYTES, what: str = "shard") -> Iterator[BinaryIO]:
    """``path`` opened for binary reading when it is a regular file of at most ``limit`` bytes
    (opened without blocking, so a FIFO is refused instead of waiting for a writer).

    Raises:
        Refused: not a regular file, or over ``limit``.
        OSError: it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > limit:
            raise Refused(f"{info.st_size:,} bytes, over the {limit:,}-byte {what} limit")
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with stream:
        yield stream


def member_problem(info: zipfile.ZipInfo, limit: int = MAX_SHARD_BYTES, what: str = "shard") -> str | None:
    """Why a zip member is not read, from its header alone (None: read it): it declares more
    than ``limit`` bytes, or more than :data:`MAX_INFLATE_RATIO` times its compressed size."""
    if info.file_size > limit:
        return f"{info.file_size:,} bytes, over the {limit:,}-byte {what} limit"
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_INFLATE_RATIO * max(1, info.compress_size):
        ratio = info.file_size / max(1, info.compress_size)
        return (
            f"declares {info.file_size:,} bytes from {info.compress_size:,} compressed ({ratio:,.0f} to 1), "
            f"over the {MAX_INFLATE_RATIO}-to-1 limit (a zip bomb?): not inflated"
        )
    return None


@contextlib.contextmanager
def _open_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str = "shard"
) -> Iterator[BinaryIO]:
    problem = member_problem(info, limit, what)
    if problem is not None:
        raise Refused(problem)
    # zipfile stops inflating at the declared size and checks the CRC at the end (BadZipFile),
    # so what is read is never more than member_problem let through.
    with archive.open(info) as stream:
        yield stream  # type: ignore[misc]


def _sort_key(name: str) -> PurePosixPath:
    # Directories list their files sorted as paths (parts compared in turn); members likewise.
    return PurePosixPath(name)


def members(
    path: Path, globs: Sequence[str], *, listings: bool = False, archive: bool | None = None
) -> Iterator[Member]:
    """The files ``path`` stands for, in the same order whatever its form: a directory's files
    matching ``globs`` (at any depth, sorted as paths), a zip archive's members likewise
    (``archive``; default: a ``.zip`` suffix), else ``path`` itself. With ``listings``, each
    member's ``listing`` is the ``collected.json`` beside it. Never raises; problems are members
    with a ``problem``. A zip member can only be opened while the iteration is at it."""
    if archive is None:
        archive = path.suffix == ".zip"
    if path.is_dir():
        # A reports directory counts once, through its root links (checker/results/runs.py).
        found = sorted(
            {
                p
                for g in globs
                for p in path.rglob(g)
                if p.is_file()
                and not runs.in_history(
                    p.relative_to(path).parts,
                    lambda d: runs.is_root(lambda name: os.path.lexists(path.joinpath(*d, name))),
                )
            }
        )
        if not found:
            yield Member(str(path), problem=f"no {', '.join(globs)} inside")
        for p in found:
            yield _file_member(p, listings)
    elif archive:
        yield from _zip_members(path, globs, listings)
    else:
        yield _file_member(path, listings)


def _file_member(path: Path, listings: bool) -> Member:
    listing = None
    if listings:
        beside = path.parent / collected.FILENAME
        if beside.is_file():
            listing = Member(
                str(beside), open=lambda: open_regular(beside, collected.MAX_BYTES, collected.FILENAME)
            )
    return Member(str(path), open=lambda: open_regular(path), listing=listing)


def _zip_members(path: Path, globs: Sequence[str], listings: bool) -> Iterator[Member]:
    with contextlib.ExitStack() as stack:
        try:
            # Opened as a regular file first: zipfile would wait forever on a FIFO named *.zip.
            handle = stack.enter_context(open_regular(path, sys.maxsize, "archive"))
            archive = stack.enter_context(zipfile.ZipFile(handle))
        except (Refused, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            yield Member(str(path), problem=f"not a readable zip archive: {_reason(exc)}", archived=True)
            return
        yield from _archive_members(path, archive, globs, listings)


def _has(entries: set[tuple[tuple[str, ...], str]], directory: tuple[str, ...], name: str) -> bool:
    return (directory, name) in entries


def _archive_members(
    path: Path, archive: zipfile.ZipFile, globs: Sequence[str], listings: bool
) -> Iterator[Member]:
    files = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    # The archive's reports directories (checker/results/runs.py), each read once.
    entries = {
        (parts[:i], parts[i]) for parts in (PurePosixPath(n).parts for n in files) for i in range(len(parts))
    }
    roots = {
        d for d, name in entries if name == runs.RUNS and runs.is_root(functools.partial(_has, entries, d))
    }
    found = sorted(
        (
            i
            for i in files.values()
            if any(PurePosixPath(i.filename).match(g) for g in globs)
            and not runs.in_history(PurePosixPath(i.filename).parts, roots.__contains__)
        ),
        key=lambda i: _sort_key(i.filename),
    )
    if not found:
        yield Member(str(path), problem=f"no {', '.join(globs)} inside", archived=True)
    for info in found:
        listing = None
        beside = files.get(str(PurePosixPath(info.filename).parent / collected.FILENAME))
        if listings and beside is not None:
            listing = Member(
                f"{path}!{beside.filename}",
                open=functools.partial(
                    _open_member, archive, beside, collected.MAX_BYTES, collected.FILENAME
                ),
                archived=True,
            )
        yield Member(
            f"{path}!{info.filename}",
            open=functools.partial(_open_member, archive, info, MAX_SHARD_BYTES),
            listing=listing,
            archived=True,
        )


def read_shards(paths: Iterable[Path]) -> list[Shard]:
    """Shards named by ``paths``: results.jsonl files, directories or zip archives of them
    (each read as :func:`members` lists it: a zip as the directory it unpacks to).

    The shards of one directory share its ``collected.json``: a case it lists is lost (a
    ``not-run`` record, reason ``lost``, added to the directory's first shard) when none of
    them has a record of it, so a second shard beside ``results.jsonl`` does not make every case
    it lacks a lost one.

    A path that does not exist, a directory or archive without shards and an unreadable archive
    each yield one Shard with a CorruptEntry (and no records) instead of raising.
    """
    shards: list[Shard] = []
    for path in paths:
        listed: dict[str, list[str] | str] = {}  # a listing's node ids, or why it is unreadable
        groups: dict[str, list[int]] = {}  # a listing's shards (indices into ``shards``)
        for member in members(path, (SHARD_GLOB,), listings=True):
            shard, read = _read_member(member)
            shards.append(shard)
            if read and member.listing is not None:
                source = member.listing.source
                if source not in listed:  # read now: a zip member only opens during iteration
                    listed[source] = _listing(member.listing)
                groups.setdefault(source, []).append(len(shards) - 1)
        for source, indices in groups.items():
            _add_lost(shards, indices, source, listed[source])
    return shards


def _unreadable(source: str, reason: str) -> Shard:
    return Shard(source, (), (CorruptEntry(source, reason),), hashlib.sha256(source.encode()).hexdigest())


def _read_member(member: Member) -> tuple[Shard, bool]:
    """The shard of ``member`` and whether it could be read at all."""
    if member.open is None:
        return _unreadable(member.source, member.problem or "unreadable"), False
    try:
        with member.open() as stream:
            return parse_stream(member.source, stream, member.verb), True
    except Refused as exc:
        return _unreadable(member.source, str(exc)), False
    except READ_ERRORS as exc:
        return _unreadable(member.source, f"cannot {member.verb}: {_reason(exc)}"), False


def read_member_bytes(member: Member, limit: int) -> bytes:
    """All of a (small) member, at most ``limit`` bytes.

    Raises:
        ValueError: over ``limit``, or the member cannot be opened (Refused).
        OSError, zipfile errors: reading it failed.
    """
    if member.open is None:
        raise ValueError(member.problem or "unreadable")
    with member.open() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"over the {limit:,}-byte limit")
    return data


def _listing(listing: Member) -> list[str] | str:
    """The node ids of a collected.json, or why they cannot be read."""
    try:
        return collected.parse(read_member_bytes(listing, collected.MAX_BYTES))
    except ValueError as exc:
        return str(exc)[:300]
    except READ_ERRORS as exc:
        return f"cannot {listing.verb}: {_reason(exc)}"


def _add_lost(shards: list[Shard], indices: list[int], source: str, ids: list[str] | str) -> None:
    """Add to the first of ``shards[indices]`` (the shards beside one collected.json, named
    ``source``) a lost ``not-run`` record for each case the listing ``ids`` names and none of
    them has a record of: a run killed or interrupted before its end (checker/collected.py); or
    a corrupt entry saying why the listing cannot be read."""
    first = shards[indices[0]]
    if isinstance(ids, str):
        shards[indices[0]] = dataclasses.replace(first, corrupt=(*first.corrupt, CorruptEntry(source, ids)))
        return
    records = [r for i in indices for r in shards[i].records]
    target = records[0].target if records else "-"
    lost = collected.lost_records(ids, records, target)
    if lost:
        shards[indices[0]] = dataclasses.replace(first, records=(*first.records, *lost))


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
    artifact as downloaded), in name order, each read whole: at most MAX_SHARD_BYTES and
    MAX_INFLATE_RATIO times its compressed size. Never raises: an unreadable archive, one
    without such a member, a member over a limit and one that cannot be extracted (corrupt,
    encrypted) are each a :class:`ZipMember` with a ``problem``. (Readers that can stream
    should use :func:`members` instead: this holds each member in memory.)"""
    out = []
    for member in _zip_members(path, globs, listings=False):
        if member.open is None:
            problem = member.problem or ""
            if problem.startswith("no "):  # an archive, not a directory
                problem += " the archive"
            out.append(ZipMember(member.source, problem=problem))
            continue
        try:
            out.append(ZipMember(member.source, data=read_member_bytes(member, MAX_SHARD_BYTES)))
        except Refused as exc:
            out.append(ZipMember(member.source, problem=str(exc)))
        except READ_ERRORS as exc:
            out.append(ZipMember(member.source, problem=f"cannot extract: {exc}"))
    return out


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
