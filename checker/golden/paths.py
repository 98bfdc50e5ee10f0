"""Golden file paths: derived from case ids, sanitized, unique and confined under the root.

Layout: ``<root>/<target key>/<kernel>/<case param>.triton``, e.g.
``golden/cpu-sm_90/rms_norm/2048x4096-bf16-default.triton``.

A path component that is already safe (lower case letters, digits, ``.``, ``_`` and ``-``,
starting with a letter or digit, at most 100 characters, not a Windows device name) is used
as it is, so ordinary ids stay readable. Anything else (``../../x``, an absolute path, a NUL
byte, upper case, 300 characters) becomes a lower-cased, sanitized prefix of at most 60
characters plus ``~`` and 12 hex digits of the SHA-256 of the original. ``~`` never appears in
a plain component, so a hashed name cannot collide with a plain one; the hash keeps ids that
differ only by case (or only in the replaced characters) apart, also on case-insensitive file
systems. Finally the path is checked to lie under the root.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: File name suffix of a golden file.
SUFFIX = ".triton"

_PLAIN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_UNSAFE_CHARS = re.compile(r"[^a-z0-9._-]+")
# Names Windows refuses as file names whatever the extension (Microsoft, "Naming Files, Paths,
# and Namespaces"); a checkout on Windows must not break on a kernel called "aux".
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
_PREFIX_LEN = 60
_HASH_LEN = 12


class GoldenPathError(ValueError):
    """A golden path would leave the golden root; the message names the id."""


def safe_component(name: str) -> str:
    """``name`` as one safe path component (see the module docstring for the rule).

    Injective: different names give different components (up to SHA-256 collisions).
    """
    if _PLAIN.match(name) and ".." not in name and name.split(".", 1)[0] not in _WINDOWS_DEVICES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    prefix = _UNSAFE_CHARS.sub("_", name.lower()).strip("._-")[:_PREFIX_LEN] or "id"
    return f"{prefix}~{digest}"


def golden_path(root: Path, target_key: str, kernel: str, param: str) -> Path:
    """Where the golden file of case ``kernel[param]`` for ``target_key`` lives under ``root``.

    Raises:
        GoldenPathError: the path would not lie under ``root`` (cannot happen for components
            made by :func:`safe_component`; kept as a second line of defence).
    """
    base = root.resolve()
    path = base / safe_component(target_key) / safe_component(kernel) / (safe_component(param) + SUFFIX)
    if not path.resolve().is_relative_to(base):
        raise GoldenPathError(f"golden path for {kernel}[{param}] ({target_key}) escapes {base}: {path}")
    return path


def kernel_dir(root: Path, target_key: str, kernel: str) -> Path:
    """The directory holding every golden file of ``kernel`` for ``target_key``."""
    return root.resolve() / safe_component(target_key) / safe_component(kernel)


def target_dir(root: Path, target_key: str) -> Path:
    """The directory holding every golden file for ``target_key``."""
    return root.resolve() / safe_component(target_key)
