"""What a failure group tells a person to do, as every group view shows it (docs/triage.md):
the next step of its category, the command that re-runs its case, and for a golden change the
diff's first lines and the command that accepts it.

Commands are shown two ways. Where the reader is on the machine that ran the case (the terminal
after ``kcheck run``, ``kcheck triage`` without ``--markdown``) the stored command is shown as
it is: the interpreter that ran it and absolute paths, pasteable from any directory. Where the
reader is someone else (the PR comment, ``triage.md``, ``verdict.json`` and its annotations)
the command is shown *relative to the repository root*: the interpreter as ``python`` and every
path under the root relative to it, to be pasted from the root of one's own checkout
(:func:`relative_command`). The records keep the stored command (``kcheck repro`` and
``kcheck minimize`` read its options)."""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath

from checker.categories import Category
from checker.model import Record

#: Lines of a golden diff a group view shows (the whole diff is in the record, the comment's
#: collapsed section and ``kcheck triage --markdown``).
DIFF_HEAD_LINES = 12
#: The interpreter a relative command names: the reader's own, on their PATH.
PYTHON = "python"


def next_step(rec: Record) -> str:
    """One line of what to do about a failure of ``rec``'s category (checker.categories.TRAITS's
    ``next_step``): whose fault it usually is and which command narrows it."""
    return rec.category.traits.next_step


def accept_label(rec: Record) -> str:
    """``create`` for a missing golden file, else ``accept``."""
    return "create" if rec.category is Category.GOLDEN_MISSING else "accept"


def accept_command(rec: Record, relative: bool = False) -> str | None:
    """The command that accepts (or, for ``golden-missing``, creates) a golden record's file:
    its repro command with ``--update-golden`` (``fields.accept``); None for other records and
    for a golden failure ``--update-golden`` cannot fix (a FileCheck expectation). Relative to
    the repository root with ``relative`` (:func:`relative_command`)."""
    command = rec.fields.get("accept")
    if not isinstance(command, str) or not command:
        return None
    return relative_command(command, rec.nodeid) if relative else command


def repro_command(rec: Record, relative: bool = False) -> str | None:
    """``rec.repro``, relative to the repository root with ``relative`` (:func:`relative_command`)."""
    if not rec.repro:
        return None
    return relative_command(rec.repro, rec.nodeid) if relative else rec.repro


def shown_commands(rec: Record, relative: bool = False) -> list[tuple[str, str]]:
    """The (label, command) lines a group view shows for its representative ``rec``: ``repro``,
    then for a golden change ``accept`` (``create`` for a missing file); relative to the
    repository root with ``relative`` (:func:`relative_command`)."""
    out = []
    repro = repro_command(rec, relative)
    if repro:
        out.append(("repro", repro))
    accept = accept_command(rec, relative)
    if accept:
        out.append((accept_label(rec), accept))
    return out


def diff_head(rec: Record, lines: int = DIFF_HEAD_LINES) -> list[str]:
    """The first ``lines`` lines of a golden record's diff (``fields.diff``), and a last line
    saying how many more there are; empty when the record has no diff."""
    diff = rec.fields.get("diff")
    if not isinstance(diff, str) or not diff.strip():
        return []
    all_lines = diff.rstrip("\n").split("\n")
    head = all_lines[:lines]
    if len(all_lines) > lines:
        head.append(f"... {len(all_lines) - lines} more lines")
    return head


def relative_command(command: str, nodeid: str | None) -> str:
    """``command`` (a record's repro or accept command) as someone else pastes it from the root
    of their checkout: the interpreter before ``-m pytest`` as ``python``, and every absolute
    path under the repository root relative to it (``kernels/add.py::add[...]``, ``--kernels
    kernels/add.py``, each entry of ``PYTHONPATH=...``; the root itself as ``.``).

    The root is the one the command's node path and ``nodeid`` (relative to pytest's rootdir,
    the ini file's directory) share: ``/ci/work/repo/kernels/add.py::x`` with node id
    ``kernels/add.py::x`` has root ``/ci/work/repo``. Without a node id, or when the node path
    does not end with it (a suite outside the rootdir: ``../suite/k.py``), paths stay absolute
    and only the interpreter is replaced. A command that cannot be split is returned unchanged."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    for i in range(1, len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "pytest":
            argv[i - 1] = PYTHON
            break
    root = _root(argv, nodeid)
    if root is not None:
        argv = [_relative_token(token, root) for token in argv]
    return shlex.join(argv)


def _root(argv: list[str], nodeid: str | None) -> PurePosixPath | None:
    if not nodeid or "::" not in nodeid:
        return None
    rel = PurePosixPath(nodeid.split("::", 1)[0])
    if ".." in rel.parts or rel.is_absolute():
        return None
    for token in argv:
        if "::" not in token:
            continue
        path = PurePosixPath(token.split("::", 1)[0])
        n = len(rel.parts)
        if path.is_absolute() and len(path.parts) > n and path.parts[-n:] == rel.parts:
            return PurePosixPath(*path.parts[:-n])
    return None


def _relative_token(token: str, root: PurePosixPath) -> str:
    if "=" in token and not token.startswith("/"):
        # --opt=/abs/path, PYTHONPATH=/a:/b
        name, _, value = token.partition("=")
        return f"{name}={':'.join(_relative_path(v, root) for v in value.split(':'))}"
    if "::" in token:
        path, _, rest = token.partition("::")
        return f"{_relative_path(path, root)}::{rest}"
    return _relative_path(token, root)


def _relative_path(text: str, root: PurePosixPath) -> str:
    path = PurePosixPath(text)
    if not path.is_absolute():
        return text
    try:
        return str(path.relative_to(root))
    except ValueError:
        return text
