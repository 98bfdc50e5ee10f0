"""Unused golden files: files under a target's directory that no tracked case of the session
writes, and which the session saw enough of the suite to judge.

A session judges a kernel's directory only when it collected and selected every golden case
of that kernel (``-k softmax`` judges softmax alone). Directories of kernels it does not know
(a deleted or renamed kernel) are judged only by a full scan: every kernel file collected
without error and no golden case deselected. Everything else is left alone, so a narrowed run
never reports, or prunes, what it did not look at.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from checker.golden import paths


@dataclass(frozen=True)
class Manifest:
    """What one process collected, enough for the controller to judge unused files.

    Attributes:
        key: the target key (directory under the golden root).
        tracked: per kernel, the file names (relative to the kernel's directory) its golden
            cases use.
        complete: kernels whose every golden case was selected.
        known: every kernel name of every collected spec (tracked or not).
        full_scan: the session saw the whole suite: every kernel file collected without error
            and no golden case deselected.
    """

    key: str
    tracked: dict[str, list[str]] = field(default_factory=dict)
    complete: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    full_scan: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Raises ValueError for text that is not a manifest."""
        try:
            return cls(**json.loads(text))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a golden manifest: {exc}") from exc


def _files_under(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    out: list[Path] = []
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        out.extend(Path(base, name) for name in sorted(files))
    return out


def find_unused(root: Path, manifest: Manifest) -> list[Path]:
    """Files under ``root/<manifest.key>`` that are unused, sorted.

    Leftover temp files of an interrupted write count as unused too.
    """
    target = paths.target_dir(root, manifest.key)
    unused: list[Path] = []
    judged: set[Path] = set()
    for kernel in manifest.complete:
        kdir = paths.kernel_dir(root, manifest.key, kernel)
        judged.add(kdir)
        keep = {kdir / name for name in manifest.tracked.get(kernel, [])}
        unused.extend(p for p in _files_under(kdir) if p not in keep)
    if manifest.full_scan:
        known = {paths.kernel_dir(root, manifest.key, k): k for k in manifest.known}
        for entry in sorted(target.iterdir()) if target.is_dir() else []:
            if entry in judged:
                continue
            if entry.is_dir() and entry in known:
                keep = {entry / name for name in manifest.tracked.get(known[entry], [])}
                unused.extend(p for p in _files_under(entry) if p not in keep)
            elif entry.is_dir():
                unused.extend(_files_under(entry))
            else:
                unused.append(entry)
    return sorted(unused)


def prune(files: list[Path], root: Path) -> None:
    """Delete ``files`` (all under ``root``), then the directories this leaves empty below
    ``root``.

    Raises:
        ValueError: a file does not lie under ``root`` (nothing is deleted then).
        OSError: a file cannot be deleted.
    """
    base = root.resolve()
    outside = [f for f in files if not f.resolve().is_relative_to(base)]
    if outside:
        raise ValueError(f"refusing to prune files outside {base}: {outside[:3]}")
    for f in files:
        f.unlink(missing_ok=True)
    for parent in sorted(
        {p for f in files for p in f.parents if p.is_relative_to(base) and p != base},
        key=lambda p: -len(p.parts),
    ):
        # A directory that is not empty still holds goldens of other cases.
        with contextlib.suppress(OSError):
            parent.rmdir()
