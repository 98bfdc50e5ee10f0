"""Which record, run options, kernel file and spec a case id names, for ``kcheck repro`` and
``kcheck minimize``.

A results file is data (it may come from a downloaded artifact that also ships a ``.py``
file), so the paths a record names never decide what is imported: the kernel file is one the
user names (``--kernels``) or one of the project's configured kernel paths
(:func:`kernel_file_for`), and nothing is imported before a file passes that test.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from checker.model import Record
from checker.options import Values, defaults, of_record
from checker.spec import KernelSpec


class ReproError(Exception):
    """A reproducer cannot be written: the record or kernel was not found, the category has
    nothing to replay, or the code cannot be regenerated. The message names the case."""


def find_record(results: Path, case_id: str) -> Record:
    """The record of ``case_id`` (a case name such as ``add[8x16-fp16-cfg0]`` or a pytest node
    id) in ``results``; the last one when the file holds several.

    Raises:
        ReproError: the file is missing or malformed, or holds no record of the case.
    """
    return find_in(read_results(results, case_id), case_id, Path(results))


def read_results(results: Path, case_id: str) -> list[Record]:
    """The records of ``results``, read for ``case_id`` (named in the error).

    Raises:
        ReproError: the file is missing or malformed.
    """
    from checker.results.jsonl import read_records

    results = Path(results)
    if not results.is_file():
        raise ReproError(f"case {case_id}: results file {results} does not exist")
    try:
        return list(read_records(results))
    except (OSError, ValueError) as exc:
        raise ReproError(f"case {case_id}: cannot read {results}: {exc}") from exc


def find_in(records: Sequence[Record], case_id: str, results: Path) -> Record:
    """:func:`find_record` over records already read from ``results`` (named in the error).

    Raises:
        ReproError: no record of the case.
    """
    found = [
        r for r in records if case_id in (r.case.name, r.nodeid) or (r.nodeid or "").endswith(f"::{case_id}")
    ]
    kernel_cases = [r for r in found if r.mode not in ("golden", "collection")]
    if not (kernel_cases or found):
        raise ReproError(f"case {case_id}: no record of it in {results} ({len(records)} records)")
    return (kernel_cases or found)[-1]


def kernel_file_for(record: Record, kernels: Sequence[Path] = (), cwd: Path | None = None) -> Path:
    """The kernel file that declares ``record``'s spec, from the paths the user trusts only.

    A record is data (a results file may come from a downloaded artifact that also ships a
    ``.py`` file), so the paths it names never decide what is imported: with ``kernels`` (files
    or directories the user named), the one among them that declares a spec named
    ``record.case.kernel`` (the file named like the record's node id's first); without, the
    file the record's node id (relative to ``cwd``, then to the project's rootdir) or its
    command's ``--kernels`` names, when it is one of the project's configured kernel files
    (:func:`project_kernel_paths`). Nothing is imported before a file passes that test.

    Raises:
        ReproError: no such file, or the record's file is outside the allowed paths; one line
            naming the case, the file and the fix (``--kernels DIR``).
    """
    base = Path.cwd() if cwd is None else Path(cwd)
    hint = (record.nodeid or "").split("::", 1)[0]
    name = record.case.kernel
    if kernels:
        files = _kernel_files([base / path for path in kernels])
        files.sort(key=lambda f: f.name != Path(hint).name)
        for file in files:
            if file.is_file() and _declares(file, name):
                return file
        searched = ", ".join(_shown(k) for k in kernels)
        raise ReproError(f"case {record.case.name}: no kernel file in {searched} declares spec {name!r}")
    roots, rootdir = project_kernel_paths(base)
    allowed = {r for r in map(_resolved, _kernel_files(roots)) if r is not None}
    candidates = [base / hint, rootdir / hint] if hint else []
    candidates += [Path(p) for p in recorded_options(record)["kernels"]]
    for file in candidates:
        if _resolved(file) in allowed and _is_file(file):
            return file
    shown_roots = ", ".join(_shown(r) for r in roots) or f"none: no {_shown(rootdir / 'kernels')}"
    outside = next((f for f in candidates if _is_file(f)), None)
    if outside is not None:
        raise ReproError(
            f"case {record.case.name}: the record names kernel file {_shown(outside)}, which is not "
            f"under the project's kernel paths ({shown_roots}); kernels are loaded only from paths "
            "you name: pass --kernels DIR with the directory that holds it, if you trust it"
        )
    tried = ", ".join(_shown(c) for c in candidates) or "nothing (the record has no node id)"
    raise ReproError(
        f"case {record.case.name}: kernel file not found in the project's kernel paths ({shown_roots}; "
        f"the record names {tried}); pass --kernels DIR"
    )


def project_kernel_paths(cwd: Path | None = None) -> tuple[list[Path], Path]:
    """The kernel paths the project at ``cwd`` configures, and its rootdir: the
    ``kcheck_kernel_paths`` of the pytest ini file pytest would use there (relative to that
    file's directory), else ``<rootdir>/kernels``, as ``kcheck run`` and pytest collect them.
    Paths that do not exist are left out."""
    base = Path.cwd() if cwd is None else Path(cwd)
    rootdir: Path = base
    inipath: Path | None = None
    value: Any = None
    try:
        from _pytest.config import findpaths

        try:
            found: Any = findpaths.locate_config(base, [base])
        except TypeError:  # pytest before 8.1: locate_config(args)
            found = findpaths.locate_config([base])  # type: ignore[call-arg,arg-type]
        rootdir = Path(found[0] or base)
        inipath = found[1]
        value = found[2].get("kcheck_kernel_paths")
        value = getattr(value, "value", value)  # pytest 9 wraps ini values
    except Exception:
        # An unreadable ini: pytest would refuse to run there; nothing is configured.
        value = None
    if inipath is not None and isinstance(value, (str, list)) and value:
        items = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
        paths = [Path(inipath).parent / item for item in items]
    else:
        paths = [rootdir / "kernels"]
    return [p for p in paths if p.exists()], rootdir


def _kernel_files(paths: Iterable[Path]) -> list[Path]:
    from checker import loader

    files: list[Path] = []
    for path in paths:
        files.extend(loader.kernel_files(path) if path.is_dir() else [path])
    return files


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte in a record's path
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _shown(path: Path | str) -> str:
    """``path`` for a one-line message: as is when printable, else its ``ascii()`` (a record's
    node id can hold a newline)."""
    text = str(path)
    return text if text.isprintable() else ascii(text)


def _declares(file: Path, name: str) -> bool:
    from checker import loader
    from checker.spec import specs_of_module

    try:
        return any(s.name == name for s in specs_of_module(loader.load(file)))
    except Exception:
        return False


def recorded_options(record: Record) -> Values:
    """The run options that re-run ``record``'s case (checker.options.of_record), the
    defaults when it stores none.

    Raises:
        ReproError: what the record stores cannot be read; one line naming the case.
    """
    try:
        return of_record(record) or defaults()
    except ValueError as exc:
        name = _shown(record.case.name)
        raise ReproError(f"case {name}: its record's options cannot be read: {exc}") from None


def spec_of(kernel_file: Path, record: Record) -> KernelSpec:
    """The spec of ``record``'s kernel declared in ``kernel_file``.

    Raises:
        ReproError: the file cannot be loaded or declares no such spec, naming the case.
    """
    from checker import loader
    from checker.spec import specs_of_module

    try:
        module = loader.load(Path(kernel_file))
        specs = specs_of_module(module)
    except Exception as exc:
        raise ReproError(f"case {record.case.name}: cannot load {kernel_file}: {exc}") from exc
    for spec in specs:
        if spec.name == record.case.kernel:
            return spec
    raise ReproError(f"case {record.case.name}: {kernel_file} declares no spec {record.case.kernel!r}")
