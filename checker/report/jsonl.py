"""Streaming results.jsonl: one Record per line, appended and flushed as each case finishes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from checker.model import Record, other_kind


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


def read_records(path: Path) -> Iterator[Record]:
    """Records of a results.jsonl file; lines of other record kinds (timing records,
    :data:`checker.model.OTHER_KINDS`) are skipped: they are not cases.

    Raises:
        ValueError: naming the file and line of a malformed record.
    """
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = Record.from_json(line)
            except ValueError as exc:
                if other_kind(line) is not None:
                    continue
                raise ValueError(f"{path}:{lineno}: {exc}") from None
            yield record
