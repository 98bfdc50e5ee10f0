"""A log file read as bounded, sanitized lines, one at a time.

A line is read with ``readline(MAX_LINE_BYTES)``: a longer line costs at most that much memory;
the rest of it is read in chunks and dropped, and the line counts as oversized (skipped). Bytes
that are not UTF-8 become U+FFFD; every escape sequence of ECMA-48 (:data:`ESCAPES`: control
sequences such as colors and cursor moves, control strings such as an xterm title ``ESC ] 0;title
BEL`` or a hyperlink, and the two- and three-character escapes) and then every other control
character is removed; carriage returns split a line into segments (tqdm redraws its bar with
``\\r``), each yielded with the line's number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

#: Longest line read, bytes. Real lines are under 10 KiB (a long Config repr is ~600 bytes).
MAX_LINE_BYTES = 64 * 1024

#: The escape sequences of ECMA-48 (5th edition, 1991), 7-bit (ESC ...) and 8-bit (C1) forms,
#: in the order they must be tried (a control sequence's ``[`` and a control string's ``]`` are
#: also final bytes of two-character escapes):
#:
#: - control sequences (5.4): CSI (``ESC [`` or U+009B), parameter bytes 0x30-0x3F, intermediate
#:   bytes 0x20-0x2F, a final byte 0x40-0x7E: colors ``ESC[1;31m``, cursor moves ``ESC[2K``,
#:   ``ESC[?25l``; one cut off at the end of the line is removed too;
#: - control strings (5.6): OSC ``ESC ]``, DCS ``ESC P``, SOS ``ESC X``, PM ``ESC ^``, APC ``ESC _``
#:   (or their C1 forms) up to the string terminator ST (``ESC \``, U+009C) or BEL, which
#:   xterm accepts to end an OSC (``ESC]0;title BEL`` sets the window title: left in place it
#:   kept every line of a log from being understood, issue 23), or the end of the line;
#: - nF escapes (5.3, ECMA-35): ESC, intermediate bytes 0x20-0x2F, a final byte 0x30-0x7E
#:   (``ESC ( B`` designates a character set);
#: - Fp, Fe and Fs escapes: ESC and one byte 0x30-0x7E (``ESC 7``, ``ESC =``, ``ESC M``, ``ESC c``).
ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*(?:[\x40-\x7e]|\Z)"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)"
    r"|\x1b[\x20-\x2f]+[\x30-\x7e]"
    r"|\x1b[\x30-\x7e]",
    re.DOTALL,
)
#: Control characters left after the escapes are gone: C0 but the tab, DEL and C1.
CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


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
    """``text`` without escape sequences (:data:`ESCAPES`) and control characters (tabs kept).
    Text decoded with ``errors="replace"`` has no lone surrogates, so the result is encodable."""
    if text.isascii() and text.isprintable():
        return text  # the common case, without the regular expressions
    return CONTROLS.sub("", ESCAPES.sub("", text))
