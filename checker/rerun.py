"""The one-line command that re-runs one case (a record's ``repro``) and the options it carries
(a record's ``options``): what a person pastes, and what ``kcheck repro``, ``kcheck minimize``
and ``kcheck bench`` read back (checker/options.py decides which options a rerun carries)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checker import options
from checker.golden.paths import safe_component
from checker.options import Values

#: Whether pytest loads the kcheck plugin by its entry point (``pip install``); set by the
#: plugin at configure. When it does not (a source tree run with ``-p checker.plugin``), repro
#: commands load it themselves.
plugin_installed = True


def rerun_values(rerun: Values, file: Path, name: str) -> Values:
    """The options that re-run just case ``name`` of kernel file ``file``: the run's rerun
    options (``rerun``, checker.session.State.rerun) with that file as the only kernel path
    and the case's own reports directory."""
    return rerun.replace(kernels=[str(Path(file).resolve())], reports_dir=str(repro_reports_dir(name)))


def rerun_of(rerun: Values, file: Path, name: str) -> dict[str, Any]:
    """The record fields that re-run case ``name`` of kernel file ``file``: ``options`` (what
    readers take: checker.options.of_record) and ``repro``, the same as one command line."""
    values = rerun_values(rerun, file, name)
    return {"options": values.to_json(), "repro": repro_command(file, name, values)}


def repro_command(file: Path, name: str, values: Values, extra: Sequence[str] = ()) -> str:
    """One line that re-runs just the item ``name`` of kernel file ``file`` when pasted from any
    working directory: the interpreter that ran it, the file by absolute path, the options
    ``values`` (checker.options.command_args: ``--kernels`` among them) and ``extra`` arguments
    (``--update-golden``), then the reports directory of ``values``. When the plugin is not
    installed (a source tree run with ``-p checker.plugin``) the line also loads it and puts
    this checker first on PYTHONPATH."""
    file = Path(file).resolve()
    argv = [sys.executable, "-m", "pytest", f"{file}::{name}", *options.command_args(values), *extra]
    # Its own reports directory (repro_reports_dir: never the run's), placed here after the
    # extra arguments, where repro commands always had it.
    argv += ["--reports-dir", str(values["reports_dir"])]
    argv += ["-p", "no:xdist", "-p", "no:cacheprovider"]
    if not plugin_installed:
        source = str(Path(__file__).resolve().parents[1])
        pythonpath = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
        argv = ["env", f"PYTHONPATH={pythonpath}", *argv, "-p", "checker.plugin"]
    return shlex.join(argv)


def repro_reports_dir(name: str) -> Path:
    """Where a repro command of case ``name`` writes its reports: ``kcheck-repro/<case>``,
    relative to the directory the command is pasted in (docs/repro.md). Never the run's
    reports (a repro once replaced them), and never a fixed path in the shared temp directory,
    where another user could plant a symlink to a directory of yours (issue 23); not inside
    ``reports/`` either, which ``kcheck report reports/`` reads recursively."""
    # The golden files' rule for a path component: safe, and one directory per case.
    return Path("kcheck-repro") / safe_component(name)
