"""Versions of the toolchain a record was produced with."""

from __future__ import annotations

import functools
import platform
from importlib import metadata


@functools.cache
def versions() -> dict[str, str]:
    """``{"helion": ..., "triton": ..., "torch": ..., "python": ...}``; missing ones are ``"-"``."""
    out: dict[str, str] = {}
    for dist in ("helion", "triton", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "-"
    out["python"] = platform.python_version()
    return out
