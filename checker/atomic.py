"""Replacing a file or a symbolic link atomically: write a temp one beside it, rename."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def replacing(path: Path, text: bool = False) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content into, streamed; when the block ends without an
    exception it replaces ``path`` (readers see the old or the new file, never a torn one),
    otherwise it is removed and ``path`` is left as it was. ``text`` opens it as UTF-8 text.

    Raises:
        OSError: the directory is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; a report should get the mode a plain open() would give it.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        mode, encoding = ("w", "utf-8") if text else ("wb", None)
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (see :func:`replacing`).

    Raises:
        OSError: the directory is not writable.
    """
    with replacing(path) as f:
        f.write(data)


def replace_symlink(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target`` (a path relative to ``link``'s directory,
    or absolute): the new link is made under a temp name beside it, then renamed over ``link``,
    so a reader sees the old or the new target, never no link. A regular file at ``link`` (an
    older layout's) is replaced too.

    Raises:
        OSError: the directory is not writable, or ``link`` is a real directory.
    """
    link.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"no free temp name beside {link}")
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
