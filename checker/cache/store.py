"""The cache directory's storage: one signed JSON file per key, written atomically, pruned by age.

Every kind of cached result (:class:`Kind`: compile verdicts, checker.cache.compile_cache;
generated code, sampled configs and interpreter verdicts, checker.cache.stages; their keys,
checker.cache.keys) lives under one root (:func:`default_dir`) as
``<root>/<kind>/<2 hex>/<key>.json``. A cache directory may be restored from a CI cache or be
writable by someone else, so everything in it is untrusted input (issue 23):

- **Regular files only, inside the directory.** Below ``root`` every directory is opened relative
  to its parent's descriptor with ``O_NOFOLLOW``, and every entry is ``lstat``-ed and opened with
  ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat``: a symlink (a kind or bucket
  directory or an entry) is never followed, read, written through or deleted through, and a FIFO,
  socket or device planted as an entry is never opened for I/O (it would block a case) and is
  removed. New entries are written to a fresh temp file (``O_CREAT | O_EXCL | O_NOFOLLOW``)
  in the entry's directory and renamed over the entry's name, so concurrent writers (xdist
  workers, several runs) and a writer killed with SIGKILL never leave a half-written entry, and a
  symlink planted under an entry's name is replaced, not written through. :func:`prune` walks the
  directory the same way and deletes only regular files named as this module names them.
- **Signed entries.** Each file is an envelope ``{"format", "kind", "key", "mac", "data"}``:
  ``mac`` is HMAC-SHA256, under a secret that is not in the cache (:func:`secret`), of the kind,
  the full key and the data. An entry is used only when its kind and key are the ones looked up
  and the MAC matches: an entry edited by hand (a failure turned into ``passed``), copied under
  another key or kind, or written with another secret is a miss and is removed. Entries are
  parsed as JSON only (never pickle), read up to :data:`MAX_ENTRY_BYTES`, and an entry its kind's
  decoder rejects is removed as well, so the next store replaces it.

What a writable cache can still do is in the README ("Compile and stage cache").
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

#: Entries larger than this (bytes) are not read: no entry is that large (generated code is
#: tens of KiB), and an untrusted directory must not make a run parse gigabytes.
MAX_ENTRY_BYTES = 1 << 20
#: Seconds after which a leftover temp file (a writer killed mid-write) is removed by prune.
STALE_TEMP_S = 3600.0


class Kind(enum.StrEnum):
    """Every kind of entry under a cache root; the values are the subdirectory names."""

    COMPILE = "compile"
    CODEGEN = "codegen"
    SAMPLES = "samples"
    RUN = "run"
    #: the host-speed measurement (checker.hostspeed).
    HOSTSPEED = "hostspeed"


#: Version of the envelope (the signed wrapper of every entry); bump when it changes meaning.
FORMAT = 1
#: Environment variable holding the signing secret (CI: a repository secret); when unset, the
#: per-user key file :func:`key_file` is used.
SECRET_ENV = "KCHECK_CACHE_SECRET"

T = TypeVar("T")

_KEY = re.compile(r"[0-9a-f]{64}")
_BUCKET = re.compile(r"[0-9a-f]{2}")
_ENTRY = re.compile(r"[0-9a-f]{64}\.json")
_TEMP = re.compile(r"\.[0-9a-f]{64}\.json\.[A-Za-z0-9_]+\.tmp")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/kcheck``, else ``~/.cache/kcheck`` (the XDG base directory rule: a
    relative XDG_CACHE_HOME is ignored)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "kcheck"


class BadEntry(ValueError):
    """A cache entry that is not what its kind stores (corrupt, truncated, foreign or forged)."""


# -- the signing secret ------------------------------------------------------------------------


def key_file() -> Path:
    """``$XDG_CONFIG_HOME/kcheck/cache-key``, else ``~/.config/kcheck/cache-key``: outside the
    cache directory, so a copy of the cache (a CI cache, a shared directory) carries no secret."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "kcheck" / "cache-key"


def secret() -> bytes | None:
    """The secret entries are signed with: derived from ``$KCHECK_CACHE_SECRET`` when set, else
    read from :func:`key_file`, which is created (32 random bytes, hex, mode 0600) when absent.
    None when there is no usable secret: the key file is a symlink, not a regular file, not the
    user's own, readable or writable by group or others, malformed, or cannot be created. The
    cache then neither reads nor writes (a secret others could read signs nothing)."""
    given = os.environ.get(SECRET_ENV)
    if given:
        return hashlib.sha256(b"kcheck cache secret\0" + given.encode("utf-8", "surrogateescape")).digest()
    path = key_file()
    try:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            _create_key_file(path)
            st = os.lstat(path)
    except OSError:
        return None
    # Cached per file state: a chmod (ctime) or a new file (inode) is read again.
    return _read_key_file(str(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _create_key_file(path: Path) -> None:
    """Create ``path`` atomically: written in full under a temp name, then hard-linked to its name
    (a concurrent creator's file wins; nothing ever reads a partial key)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, _CREATE_FLAGS, 0o600)
    try:
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@functools.lru_cache(maxsize=8)
def _read_key_file(path: str, dev: int, ino: int, mtime_ns: int, ctime_ns: int) -> bytes | None:
    """The secret in key file ``path`` (cached per file identity), None if it is unusable."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        text = os.read(fd, 4096).decode("ascii").strip()
        raw = bytes.fromhex(text)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return raw if len(raw) >= 16 else None


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key_secret: bytes, kind: str, key: str, data: Any) -> str:
    return hmac.new(key_secret, _canonical([FORMAT, kind, key, data]), hashlib.sha256).hexdigest()


# -- directories, never through a link ----------------------------------------------------------


def _open_dir(parent: int, name: str, create: bool) -> int:
    """A descriptor of directory ``name`` in directory ``parent``, opened without following a
    symlink. With ``create``, a missing directory is made, and a symlink, FIFO or file planted
    under its name is removed first (the link itself, never what it points to).

    Raises:
        OSError: it is not a directory (ELOOP for a symlink) and ``create`` is false, or it
            cannot be made.
    """
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if not create or exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            raise
        if exc.errno != errno.ENOENT:
            os.unlink(name, dir_fd=parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o777, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


@contextlib.contextmanager
def _bucket(root: Path, kind: str, bucket: str, create: bool) -> Iterator[int]:
    """A descriptor of ``root/kind/bucket``: ``root`` (the directory the user named) may be a
    symlink, nothing below it is followed."""
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    try:
        fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC))
        fds.append(_open_dir(fds[-1], kind, create))
        fds.append(_open_dir(fds[-1], bucket, create))
        yield fds[-1]
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _remove_unless_replaced(directory: int, name: str, inode: int) -> bool:
    """Unlink ``name`` in ``directory`` if it is still the file ``inode`` (another process may
    have renamed a new entry over it meanwhile); never a directory. True if removed."""
    try:
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if st.st_ino != inode or stat.S_ISDIR(st.st_mode):
            return False
        os.unlink(name, dir_fd=directory)
    except OSError:
        return False
    return True


def _read_regular(directory: int, name: str) -> tuple[bytes, int] | None:
    """The first ``MAX_ENTRY_BYTES + 1`` bytes of regular file ``name`` in ``directory`` and its
    inode; None if there is none. Anything else under that name (a symlink, FIFO, socket,
    device) is removed unopened: only a regular file is ever opened, and then without following a
    link and without blocking (``fstat`` confirms it is the file that was checked). A hit touches
    the file (least recently used entries are pruned first)."""
    try:
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        _remove_unless_replaced(directory, name, st.st_ino)
        return None
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=directory)
    except OSError:
        return None
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode) or fst.st_ino != st.st_ino:
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_ENTRY_BYTES:
            chunk = os.read(fd, MAX_ENTRY_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        with contextlib.suppress(OSError):
            os.utime(fd)
        return b"".join(chunks), fst.st_ino
    except OSError:
        return None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class EntryStore:
    """The entries of one ``kind`` under cache directory ``root``."""

    root: Path
    kind: Kind

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` (64 hex digits) lives."""
        return self.root / self.kind / key[:2] / f"{key}.json"

    def get(self, key: str, decode: Callable[[Any], T]) -> T | None:
        """``decode(data)`` of the entry of ``key``, None on a miss. An entry that is not a
        regular file, too large, not JSON, not signed for this kind and key with this cache's
        secret, or that ``decode`` rejects (raises BadEntry, ValueError, TypeError, KeyError,
        AttributeError) is removed and is a miss. Never raises for what is in the directory."""
        key_secret = secret()
        if key_secret is None or not _KEY.fullmatch(key):
            return None
        name = f"{key}.json"
        try:
            with _bucket(self.root, self.kind, key[:2], create=False) as directory:
                read = _read_regular(directory, name)
                if read is None:
                    return None
                data, inode = read
                try:
                    return decode(self._open_envelope(data, key, key_secret))
                except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                    # BadEntry, UnicodeDecodeError and JSONDecodeError are ValueErrors.
                    _remove_unless_replaced(directory, name, inode)
                    return None
        except OSError:
            return None

    def _open_envelope(self, data: bytes, key: str, key_secret: bytes) -> Any:
        if len(data) > MAX_ENTRY_BYTES:
            raise BadEntry("too large")
        envelope = json.loads(data)
        if not isinstance(envelope, dict) or set(envelope) != {"format", "kind", "key", "mac", "data"}:
            raise BadEntry("not an entry envelope")
        if envelope["format"] != FORMAT or envelope["kind"] != self.kind or envelope["key"] != key:
            raise BadEntry("an entry of another format, kind or key")
        mac = envelope["mac"]
        if not isinstance(mac, str) or not hmac.compare_digest(
            mac, _mac(key_secret, self.kind, key, envelope["data"])
        ):
            raise BadEntry("not signed with this cache's secret (edited, or written elsewhere)")
        return envelope["data"]

    def put(self, key: str, entry: Any) -> bool:
        """Store the JSON-able ``entry`` under ``key``, signed; True if stored. A directory that
        cannot be written, an entry JSON cannot hold, or no usable secret is no error: the run
        goes on uncached."""
        key_secret = secret()
        if key_secret is None or not _KEY.fullmatch(key):
            return False
        try:
            # Through JSON first: what is signed is exactly what a reader parses back.
            data = json.loads(json.dumps(entry))
            envelope = {
                "format": FORMAT,
                "kind": self.kind,
                "key": key,
                "mac": _mac(key_secret, self.kind, key, data),
                "data": data,
            }
            text = json.dumps(envelope, sort_keys=True).encode()
        except (ValueError, TypeError, RecursionError):
            return False
        try:
            with _bucket(self.root, self.kind, key[:2], create=True) as directory:
                return _write_new(directory, f"{key}.json", text)
        except OSError:
            return False


def _write_new(directory: int, name: str, data: bytes) -> bool:
    """Write ``data`` to a fresh temp file in ``directory`` and rename it over ``name``."""
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o666, dir_fd=directory
        )
    except OSError:
        return False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=directory)
        return False
    return True


# -- pruning -----------------------------------------------------------------------------------


def prune(root: str | os.PathLike[str], max_bytes: int) -> list[Path]:
    """Keep the cache at ``root`` within ``max_bytes`` (all kinds together): remove least
    recently used entries (oldest mtime first; a hit touches its entry) until the rest fit, temp
    files older than STALE_TEMP_S (writers killed mid-write), and anything planted where a kind
    directory, a bucket directory or an entry belongs that is neither (a symlink, FIFO, socket,
    device: the link or node itself). Returns the removed paths.

    Confined to ``root``: the walk opens each directory relative to its parent's descriptor with
    ``O_NOFOLLOW`` and unlinks relative to it, so no symlink inside the cache (and no symlink
    swapped in during the walk) leads it elsewhere, and it deletes only regular files named as
    entries and temp files are (64 hex digits ``.json``). Run once per run, by the controller at
    its end; entries written concurrently by another run are at worst removed."""
    base = Path(root)
    now = time.time()
    removed: list[Path] = []
    entries: list[tuple[float, int, str, str, str, int]] = []
    try:
        root_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError:
        return removed
    try:
        for kind in Kind:
            try:
                kind_fd = _open_dir(root_fd, kind, create=False)
            except OSError:
                if _remove_planted(root_fd, kind):
                    removed.append(base / kind)
                continue
            try:
                for bucket in _names(kind_fd, _BUCKET):
                    try:
                        bucket_fd = _open_dir(kind_fd, bucket, create=False)
                    except OSError:
                        if _remove_planted(kind_fd, bucket):
                            removed.append(base / kind / bucket)
                        continue
                    try:
                        for name in _names(bucket_fd, None):
                            try:
                                st = os.stat(name, dir_fd=bucket_fd, follow_symlinks=False)
                            except OSError:
                                continue
                            where = base / kind / bucket / name
                            if stat.S_ISDIR(st.st_mode):
                                continue
                            if not stat.S_ISREG(st.st_mode):
                                if _remove_unless_replaced(bucket_fd, name, st.st_ino):
                                    removed.append(where)
                            elif _ENTRY.fullmatch(name):
                                entries.append((st.st_mtime, st.st_size, kind, bucket, name, st.st_ino))
                            elif (
                                _TEMP.fullmatch(name)
                                and now - st.st_mtime > STALE_TEMP_S
                                and _remove_unless_replaced(bucket_fd, name, st.st_ino)
                            ):
                                removed.append(where)
                    finally:
                        os.close(bucket_fd)
            finally:
                os.close(kind_fd)
        total = sum(e[1] for e in entries)
        for _, size, entry_kind, bucket, name, inode in sorted(entries):
            if total <= max_bytes:
                break
            total -= size
            try:
                with _bucket(base, entry_kind, bucket, create=False) as directory:
                    if _remove_unless_replaced(directory, name, inode):
                        removed.append(base / entry_kind / bucket / name)
            except OSError:
                continue
    finally:
        os.close(root_fd)
    return removed


def _names(directory: int, pattern: re.Pattern[str] | None) -> list[str]:
    """The names in ``directory`` (matching ``pattern``), empty if it cannot be listed."""
    try:
        with os.scandir(directory) as it:
            return [e.name for e in it if pattern is None or pattern.fullmatch(e.name)]
    except OSError:
        return []


def _remove_planted(directory: int, name: str) -> bool:
    """Remove ``name`` in ``directory`` if it is there and is not a directory (a symlink, FIFO,
    file... planted where a directory of the cache belongs). True if removed."""
    try:
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode) and _remove_unless_replaced(directory, name, st.st_ino)
