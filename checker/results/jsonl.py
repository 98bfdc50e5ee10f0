"""Streaming results.jsonl: one Record per line, appended and flushed as each case finishes.

Reading is bounded whatever the input (:func:`scan_lines`): a stream is read in chunks of
:data:`CHUNK_BYTES`, a line longer than the reader's limit is dropped while it is read (never
held), runs of blank lines cost no Python work per line, and at most ``max_lines`` lines with
content are looked at. A file of a billion newlines therefore costs one chunk of memory, not ten
bytes per newline (splitting it in memory did: issue 23).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from checker.model import Record, other_kind

#: Bytes read from a stream at a time.
CHUNK_BYTES = 1 << 20
#: Most lines with content read from one file or zip member (blank lines are not counted). A
#: real record is 0.5-2 KB, so a 1 GiB shard (the size limit, checker/results/merge.py) holds at
#: most about 2 million; past this the rest of the file is not read and the reader says so.
MAX_LINES = 2_000_000

_CONTENT = re.compile(rb"[^\n]+")


class _Line(Protocol):
    def to_json(self) -> str: ...


class JsonlWriter:
    """Appends records to ``path`` (truncated on open), flushing after every line so a killed run
    keeps everything written so far."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, record: _Line) -> None:
        """Append one line: a case Record, or a record of another kind (a timing record)."""
        if self._file is None:
            raise ValueError(f"{self.path}: writer is closed")
        self._file.write(record.to_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class ScannedLine:
    """One line with content of a stream (blank lines are never yielded).

    ``number`` is 1-based. ``data`` is the line without its newline, or None when it was longer
    than the limit (dropped unread: ``length`` says how long it was). ``terminated`` is False only
    for a last line without a newline (a writer killed mid-line).
    """

    number: int
    data: bytes | None
    length: int
    terminated: bool


class LineScanner:
    """Iterate the lines with content of a binary stream as :class:`ScannedLine`, in bounded
    memory (one chunk plus one line of at most ``max_line`` bytes), at most ``max_lines`` of
    them (default :data:`MAX_LINES`).

    After iteration: ``bytes_read`` (all of it, counted as read, never trusted from a header),
    ``truncated_at`` (the line number where ``max_lines`` stopped the reading, else None). A
    ``digest`` object (``hashlib``) given is updated with every byte read.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_line: int,
        max_lines: int | None = None,
        digest: object | None = None,
    ) -> None:
        self._stream = stream
        self._max_line = max_line
        self.max_lines = MAX_LINES if max_lines is None else max_lines
        self._digest = digest
        self.bytes_read = 0
        self.truncated_at: int | None = None

    def __iter__(self) -> Iterator[ScannedLine]:
        max_line, max_lines = self._max_line, self.max_lines
        update = getattr(self._digest, "update", None)
        number = 1  # the line that ``buf`` (or the line being dropped) starts on
        buf = b""  # unconsumed bytes, from a line's start: at most max_line of them
        dropping = 0  # > 0: the line being read is over max_line; its length so far
        seen = 0
        while True:
            chunk = self._stream.read(CHUNK_BYTES)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            if update is not None:
                update(chunk)
            if dropping:
                newline = chunk.find(b"\n")
                if newline < 0:
                    dropping += len(chunk)
                    continue
                if seen >= max_lines:
                    self.truncated_at = number
                    return
                seen += 1
                yield ScannedLine(number, None, dropping + newline, True)
                number += 1
                dropping = 0
                chunk = chunk[newline + 1 :]
            data = buf + chunk if buf else chunk
            last = data.rfind(b"\n")
            if last < 0:
                if len(data) > max_line:
                    dropping, buf = len(data), b""
                else:
                    buf = data
                continue
            pos = 0
            for match in _CONTENT.finditer(data, 0, last):
                number += data.count(b"\n", pos, match.start())
                if seen >= max_lines:
                    self.truncated_at = number
                    return
                seen += 1
                size = match.end() - match.start()
                yield ScannedLine(number, match.group() if size <= max_line else None, size, True)
                pos = match.end()
            number += data.count(b"\n", pos, last + 1)
            buf = data[last + 1 :]
            if len(buf) > max_line:
                dropping, buf = len(buf), b""
        if not (dropping or buf):
            return
        if seen >= max_lines:
            self.truncated_at = number
            return
        yield ScannedLine(number, None if dropping else buf, dropping or len(buf), False)


def scan_lines(stream: BinaryIO, max_line: int, max_lines: int | None = None) -> LineScanner:
    """A :class:`LineScanner` over ``stream`` (see there)."""
    return LineScanner(stream, max_line=max_line, max_lines=max_lines)


def read_records(path: Path) -> Iterator[Record]:
    """Records of a results.jsonl file; lines of other record kinds (timing records,
    :data:`checker.model.OTHER_KINDS`) are skipped: they are not cases.

    Each line is bounded as :func:`checker.results.validate.loads` bounds it (size, nesting
    depth), so a hostile line is a ValueError naming it, never a RecursionError or a
    line-sized allocation.

    Raises:
        ValueError: naming the file and line of a malformed record.
        OSError: the file cannot be read.
    """
    from checker.results.validate import MAX_RECORD_BYTES, loads

    with open(path, "rb") as f:
        scanner = scan_lines(f, MAX_RECORD_BYTES)
        for line in scanner:
            if line.data is None:
                raise ValueError(
                    f"{path}:{line.number}: a line of {line.length:,} bytes, over the "
                    f"{MAX_RECORD_BYTES:,}-byte limit"
                )
            if not line.data.strip():
                continue
            try:
                loads(line.data)
                record = Record.from_json(line.data.decode("utf-8"))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                if other_kind(line.data) is not None:
                    continue
                raise ValueError(f"{path}:{line.number}: {str(exc)[:300]}") from None
            yield record
        if scanner.truncated_at is not None:
            where = f"{path}:{scanner.truncated_at}"
            raise ValueError(f"{where}: over {scanner.max_lines:,} lines: not read further")
