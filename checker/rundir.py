"""The run's scratch directory: what a run writes outside reports/, removed when it ends.

Generated modules (checker.codegen) and the run's locks (checker.alone: compiles, GPUs) live
here. The pytest controller creates the directory at configure and exports its path in
``KCHECK_RUN_DIR``, so every process of the run (xdist workers, compile and case workers)
writes under it, and removes it at unconfigure; only the creator removes it. A run killed with
SIGKILL cannot clean up: the next run removes directories whose owner process is gone (an
``owner`` file holds its pid).

Before this, each process made its own ``/tmp/kcheck-gen-*`` directory and none was ever removed
(one worker left 330 files; issue 13).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the current run's scratch directory.
ENV = "KCHECK_RUN_DIR"
#: Name prefix of run directories in the system temp directory.
PREFIX = "kcheck-run-"
_OWNER = "owner"


@dataclass(frozen=True)
class RunDir:
    """A scratch directory this process created; ``previous`` is the ``KCHECK_RUN_DIR`` value it
    replaced (a pytester run inside a test run), restored by :func:`remove`."""

    path: Path
    previous: str | None


def create() -> RunDir:
    """Create the run's scratch directory, export it in ``KCHECK_RUN_DIR`` and remove the
    directories of earlier runs whose owner process is gone.

    Raises:
        OSError: the temp directory is not writable.
    """
    remove_orphans()
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    (path / _OWNER).write_text(str(os.getpid()))
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    return RunDir(path, previous)


def remove(run: RunDir) -> None:
    """Remove ``run``'s directory and restore the ``KCHECK_RUN_DIR`` it replaced."""
    shutil.rmtree(run.path, ignore_errors=True)
    if run.previous is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = run.previous


def current() -> Path | None:
    """The scratch directory of the run this process belongs to, None outside a run."""
    value = os.environ.get(ENV)
    return Path(value) if value and os.path.isdir(value) else None


def scratch(name: str) -> Path:
    """A directory private to this process for ``name`` (e.g. ``gen``): under the run's scratch
    directory, else a temp directory removed when this process exits. Private, because two
    processes writing one file at once could each read the other's half-written copy."""
    run = current()
    if run is not None:
        path = run / f"{name}-{os.getpid()}"
        path.mkdir(exist_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix=f"kcheck-{name}-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def remove_orphans(tmp: Path | None = None) -> list[Path]:
    """Remove run directories in ``tmp`` (default: the system temp directory) whose owner pid is
    not a live process; returns those removed. A directory without a readable owner file is
    left alone: it may be one being created right now."""
    removed = []
    for path in Path(tmp or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            pid = int((path / _OWNER).read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    with contextlib.suppress(OSError):
        # A zombie still answers kill(0); it will never clean up after itself.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True
