"""A log file read as bounded, sanitized lines, one at a time.

A line is read with ``readline(MAX_LINE_BYTES)``: a longer line costs at most that much memory;
the rest of it is read in chunks and dropped, and the line counts as oversized (skipped). Bytes
that are not UTF-8 become U+FFFD; ANSI escapes and control characters are removed (the same
cleaning as record messages, :func:`checker.diagnostics.sanitize`); carriage returns split a line
into segments (tqdm redraws its bar with ``\\r``), each yielded with the line's number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from checker.diagnostics import sanitize

#: Longest line read, bytes. Real lines are under 10 KiB (a long Config repr is ~600 bytes).
MAX_LINE_BYTES = 64 * 1024


class LineReader:
    """Iterate ``(line_number, text)`` over a binary stream; ``oversized`` counts the lines over
    MAX_LINE_BYTES that were dropped, ``bytes_read`` all bytes consumed. ``last_line`` is the
    number of the last line read (0 for an empty stream)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.oversized = 0
        self.bytes_read = 0
        self.last_line = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        readline = self._stream.readline
        n = 0
        while True:
            raw = readline(MAX_LINE_BYTES)
            if not raw:
                return
            n += 1
            self.last_line = n
            self.bytes_read += len(raw)
            if not raw.endswith(b"\n") and len(raw) >= MAX_LINE_BYTES:
                self._drop_rest()
                self.oversized += 1
                continue
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if "\r" in text:
                for segment in text.split("\r"):
                    if segment:
                        yield n, clean(segment)
                continue
            yield n, clean(text)

    def _drop_rest(self) -> None:
        while True:
            chunk = self._stream.readline(MAX_LINE_BYTES)
            self.bytes_read += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return


def clean(text: str) -> str:
    """``text`` without ANSI escapes and control characters (tabs kept), encodable as UTF-8."""
    if text.isascii() and text.isprintable():
        return text  # the common case, without the regular expressions
    return sanitize(text, limit=4 * MAX_LINE_BYTES)
