"""The golden file format, reading it, and replacing it atomically.

A golden file is UTF-8 text with ``\\n`` line endings: a header of ``# key: value`` lines
between a version line and an end marker, then the normalized generated code::

    # kcheck golden v1 (docs/goldens.md)
    # case: rms_norm[2048x4096-bf16-default]
    # target: cpu-sm_90
    # toolchain: helion=1.4.0 triton=3.6.0 torch=2.13.0+cpu
    # config: helion.Config(block_sizes=[1], ...)
    # ---- end of header ----
    from __future__ import annotations
    ...

The body starts after the first end-marker line, so a body that contains text looking like a
header or an end marker round-trips byte for byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from checker.atomic import write_atomic

VERSION_LINE = "# kcheck golden v1 (docs/goldens.md)"
END_MARKER = "# ---- end of header ----"
#: Distributions named in the header; a difference in any of them makes a golden stale.
TOOLCHAIN_KEYS = ("helion", "triton", "torch")


class GoldenFormatError(ValueError):
    """A golden file cannot be read as one; the message names the file and the problem."""


@dataclass(frozen=True)
class GoldenHeader:
    """What a golden file says about how it was made.

    Attributes:
        case: the case name, ``kernel[shape-dtype-config]``.
        target: the target key, e.g. ``cpu-sm_90`` (codegen on CPU for sm_90) or ``sm_90``.
        toolchain: ``{"helion": "1.4.0", "triton": "3.6.0", "torch": "2.13.0+cpu"}``.
        config: Helion's repr of the config the code was generated with.
    """

    case: str
    target: str
    toolchain: dict[str, str]
    config: str

    def render(self) -> str:
        """The header lines, version line and end marker included, each ending in ``\\n``."""
        tools = " ".join(f"{k}={self.toolchain.get(k, '-')}" for k in TOOLCHAIN_KEYS)
        lines = [
            VERSION_LINE,
            f"# case: {_one_line(self.case)}",
            f"# target: {_one_line(self.target)}",
            f"# toolchain: {tools}",
            f"# config: {_one_line(self.config)}",
            END_MARKER,
        ]
        return "".join(line + "\n" for line in lines)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def release(version: str) -> str:
    """The release part of a version: ``2.11.0+cu128`` -> ``2.11.0`` (a local build label such
    as ``+cpu`` or ``+cu128`` says how torch was built, not which code it contains)."""
    return version.split("+", 1)[0]


def stale_tools(header: dict[str, str], running: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Toolchain entries whose release differs: ``{name: (in the golden, running)}``."""
    out: dict[str, tuple[str, str]] = {}
    for key in TOOLCHAIN_KEYS:
        old, new = header.get(key, "-"), running.get(key, "-")
        if release(old) != release(new):
            out[key] = (old, new)
    return out


def render(header: GoldenHeader, body: str) -> str:
    """The whole file's text: header then ``body`` (already normalized)."""
    return header.render() + body


def parse(text: str, where: str) -> tuple[GoldenHeader, str]:
    """Split a golden file's ``text`` into its header and body.

    Raises:
        GoldenFormatError: naming ``where``, for a missing version line or end marker, an
            unknown version, or a missing header key.
    """
    first, sep, _ = text.partition("\n")
    if not sep or not first.startswith("# kcheck golden v"):
        raise GoldenFormatError(f"{where}: not a kcheck golden file (first line {first[:60]!r})")
    if first != VERSION_LINE:
        raise GoldenFormatError(f"{where}: unsupported golden format {first!r}, expected {VERSION_LINE!r}")
    fields: dict[str, str] = {}
    pos = len(first) + 1
    while True:
        line, sep, _ = text[pos:].partition("\n")
        if not sep:
            raise GoldenFormatError(f"{where}: header has no end marker {END_MARKER!r}")
        pos += len(line) + 1
        if line == END_MARKER:
            break
        key, colon, value = line.removeprefix("# ").partition(": ")
        if not line.startswith("# ") or not colon:
            raise GoldenFormatError(f"{where}: malformed header line {line!r}")
        fields[key] = value
    missing = [k for k in ("case", "target", "toolchain", "config") if k not in fields]
    if missing:
        raise GoldenFormatError(f"{where}: header lacks {', '.join(missing)}")
    toolchain: dict[str, str] = {}
    for item in fields["toolchain"].split():
        name, eq, version = item.partition("=")
        if not eq:
            raise GoldenFormatError(f"{where}: malformed toolchain entry {item!r}")
        toolchain[name] = version
    header = GoldenHeader(fields["case"], fields["target"], toolchain, fields["config"])
    return header, text[pos:]


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist.

    Raises:
        GoldenFormatError: the file is not UTF-8.
        OSError: it exists but cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GoldenFormatError(f"{path}: not UTF-8 ({exc})") from None


def write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably: a temp file in the same directory,
    fsync, rename over the old file, then fsync of the directory so the rename survives a crash.
    Concurrent writers of different files never interfere; readers see the old or the new file.

    Raises:
        OSError: the directory cannot be created or written.
    """
    write_atomic(path, text.encode("utf-8"))
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
