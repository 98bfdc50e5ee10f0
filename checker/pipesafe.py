"""Terminal output that survives a reader who stopped reading.

``kcheck run ... | head -1`` closes the pipe after one line; pytest's next write then raised
BrokenPipeError, the session ended with an internal error, and junit.xml was never written
(issue 13: records must not depend on who reads the log). Output to a closed pipe is dropped
instead; the run, its records and its exit status go on.
"""

from __future__ import annotations

import os
from typing import Any, TextIO


class PipeSafe:
    """Wraps a text stream: after the first BrokenPipeError every write goes to os.devnull.

    Everything but ``write`` and ``flush`` is the wrapped stream's (``isatty``, ``encoding``...).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        """Write ``text``; its length, also when the reader has gone."""
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.broken = True
        # The interpreter flushes sys.stdout at exit too: point its descriptor at /dev/null so
        # that last flush cannot fail either.
        try:
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
