"""What a kernel's code generation can depend on among the user's own files, observed.

The kernel-identity part of the cache keys (checker.cache.keys): the bytes of every file of the
user's own that the kernel's code generation can depend on (:func:`sources`): the kernel's
source file; every file that defines a Python object the kernel function reaches through its
globals (transitively: helper functions, other kernels); and every module of the user's own that
one of those modules imports, however the names were bound (``from consts import SCALE`` as well
as ``import consts``), transitively. Besides: the bytes of every file those modules read while
they were imported (observed by an audit hook, not guessed), and the names of the environment
variables their source names (``os.environ["X"]``, ``os.getenv("X")``) or declares in a
module-level ``KCHECK_ENV = ["X", ...]``.

Files of installed packages are not hashed: torch, triton and helion are covered by the
toolchain versions in every key; any other installed package a kernel imports code from is not,
which the README says. Files the user's functions read while Helion binds the kernel or
generates code are not part of the identity (a warm process never binds): each codegen-side
entry lists them with their digests (:func:`codegen_reads`), and an entry whose files changed is
a miss (checker.cache.stages).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import inspect
import os
import stat
import sys
import sysconfig
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: How many objects the walk over a kernel's globals and its modules visits at most (a kernel
#: file importing a large package of the user's own stops there; the files seen so far still
#: count).
_MAX_OBJECTS = 2000
#: Module-level name a kernel module (or any module of the user's it imports) may bind to a list
#: of environment variable names its code or its generated code depends on.
ENV_DECLARATION = "KCHECK_ENV"
#: The checker's own package directory: its modules are not the user's (the checker's source is
#: in every key, checker.cache.keys.checker_digest).
_CHECKER_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep
#: Reads of these are system state, not a kernel's data files.
_SYSTEM_PREFIXES = ("/proc/", "/sys/", "/dev/")
#: How deep the open hook looks for a user module's top-level code or Helion's code.
_MAX_DEPTH = 300


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    roots.update({os.path.realpath(r) for r in list(roots) if r})
    return tuple(sorted(r.rstrip("/") + "/" for r in roots if r))


@functools.lru_cache(maxsize=8)
def _install_dirs(search_path: tuple[str, ...]) -> tuple[str, ...]:
    """The entries of ``search_path`` (``sys.path``) that packages were installed into: those
    holding a ``*.dist-info`` directory, as ``pip install --target DIR`` leaves (the GPU image's
    ``/tmp/site``, ci/device-setup.sh) and every site-packages does. ``*.egg-info`` does not
    count: setuptools writes one into a source checkout that is the user's own code."""
    found = set()
    for entry in search_path:
        real = os.path.realpath(entry or os.getcwd())
        try:
            with os.scandir(real) as it:
                if any(e.name.endswith(".dist-info") and e.is_dir() for e in it):
                    found.add(real.rstrip("/") + "/")
        except OSError:
            continue
    return tuple(sorted(found))


def _in_library(path: str) -> bool:
    """Whether real path ``path`` is the standard library's or an installed package's.

    Installed packages change with their version, which toolchain.versions() does not name for
    every package; but a kernel's own imports of installed packages are rare, and hashing
    site-packages files on every run would cost more than it saves. Editable installs of the
    user's code live outside these roots and are hashed. Packages installed outside any
    site-packages (``pip install --target DIR`` on PYTHONPATH) count too: taken for the user's,
    Helion's own files were hashed into every key, and a temp file Helion reads at import
    changed the key in every process, so the stage cache never hit (issue 27, the H100 image)."""
    return (
        path.startswith(_library_roots())
        or "site-packages" in path
        or "dist-packages" in path
        or path.startswith(_install_dirs(tuple(sys.path)))
    )


_OTHER, _USER, _HELION = 0, 1, 2
#: :func:`_code_file` of each code file name the open hook met (a plain dict: the hook walks
#: the whole stack on every open of a file outside the libraries).
_FRAME_KINDS: dict[str, tuple[int, str]] = {}


@functools.lru_cache(maxsize=16384)
def _code_file(filename: str) -> tuple[int, str]:
    """What the code of ``filename`` (a code object's ``co_filename``) is: the user's own
    (with its real path), Helion's, or anything else (other libraries, the checker, generated
    code and frozen modules, whose names start with ``<``)."""
    if not filename or filename.startswith("<"):
        return _OTHER, ""
    real = os.path.realpath(filename)
    if _in_library(real):
        return (_HELION if f"{os.sep}helion{os.sep}" in real else _OTHER), real
    if real.startswith(_CHECKER_DIR):
        return _OTHER, real
    return _USER, real


# -- files the user's code opens: an audit hook ------------------------------------------------
#
# A value a kernel's generated code depends on may come from a file its module read at import
# (a table, a JSON of constants), or one a helper read while Helion traced it. The hook below sees
# every ``open`` for reading in this process (``open``, ``io.open_code``, ``os.open``: whatever
# Python code opens; not what C code opens with fopen) and records the regular files outside
# installed packages opened (1) while the top-level code of a module of the user's own ran (its
# import), under that module's file, and (2) while Helion's code was on the stack (binding the
# kernel, generating code) and called a function of the user's, under that function's file.
# Reads of (1) are part of the kernel identity; reads of (2) happen only when the kernel is bound,
# which a warm process never does, so they are stored in each codegen/samples entry with their
# digests and checked when the entry is read (:func:`_check_reads`). The hook is installed when
# this module is first imported, which the pytest plugin and the case workers do before they
# import any kernel file; a module of the user's imported earlier (by a conftest.py) has its
# import-time reads unobserved. One hook and one record per process (kept on ``sys``: an
# in-process pytest run that re-imports this module must not add another).

_STATE_ATTR = "_kcheck_file_reads"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audit event of the process: return at once for all but two. An exception
    # raised here would fail the audited operation (the user's open), so none escapes.
    if event == "open":
        with contextlib.suppress(Exception):
            _on_open(args)
    elif event == "exec":
        with contextlib.suppress(Exception):
            _on_exec(args)


def _on_open(args: tuple[Any, ...]) -> None:
    path, _mode, flags = args
    if isinstance(path, int) or flags & os.O_ACCMODE == os.O_WRONLY:
        return
    if flags & (os.O_EXCL | os.O_TRUNC):
        # A file created or emptied by this open holds nothing read from before: tempfile's
        # probe of the temp directory (a random name, O_RDWR | O_CREAT | O_EXCL) would otherwise
        # enter the key of a kernel module that is the first to import the tempfile user.
        return
    path = os.fsdecode(os.fspath(path))
    if path.endswith((".pyc", ".so")) or "__pycache__" in path:
        return
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    if path.startswith(_SYSTEM_PREFIXES) or _in_library(path):
        return
    modules: set[str] = set()
    users: set[str] = set()
    helion = False
    kinds = _FRAME_KINDS
    frame: types.FrameType | None = sys._getframe(2)  # 0: here, 1: _audit, 2: the opener
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        code = frame.f_code
        kind = kinds.get(code.co_filename)
        if kind is None:
            kind = kinds[code.co_filename] = _code_file(code.co_filename)
        if kind[0] == _USER:
            users.add(kind[1])
            if code.co_name == "<module>":
                modules.add(kind[1])
        elif kind[0] == _HELION:
            helion = True
        frame = frame.f_back
        depth += 1
    if not modules and not (helion and users):
        return
    opened = os.path.realpath(path)
    if opened.startswith(_SYSTEM_PREFIXES) or _in_library(opened):
        return
    state = _READS
    for module in modules:
        state["import"].setdefault(module, set()).add(opened)
    if helion:
        for user in users:
            state["codegen"].setdefault(user, set()).add(opened)


def _on_exec(args: tuple[Any, ...]) -> None:
    # A module's top-level code runs again (imported afresh after its sys.modules entry was
    # removed): what it read before is forgotten, so a data file it no longer reads is not kept.
    code = args[0]
    if isinstance(code, types.CodeType) and code.co_name == "<module>":
        kind, real = _code_file(code.co_filename)
        if kind == _USER:
            _READS["import"].pop(real, None)


def _install_hook() -> dict[str, dict[str, set[str]]]:
    state = getattr(sys, _STATE_ATTR, None)
    if isinstance(state, dict) and set(state) == {"import", "codegen"}:
        return state
    state = {"import": {}, "codegen": {}}
    setattr(sys, _STATE_ATTR, state)
    sys.addaudithook(_audit)
    return state


#: {"import": {module file: files read while it was imported}, "codegen": {user file: files
#: read while one of its functions ran under Helion}}; real paths.
_READS = _install_hook()


# -- the kernel's sources: every file of the user's its code generation can depend on -----------


def _source_file(obj: Any) -> str | None:
    """The source file of a function, class or module, or None when it has none on disk.

    Modules built into the interpreter have no ``__file__`` at all (``math`` and ``sys`` in
    Debian's and Ubuntu's python3: issue 22, where reading it failed every attention case); frozen
    and namespace modules have ``None`` or a non-file; C extensions a ``.so``; classes defined
    in such modules make ``inspect.getsourcefile`` raise ``TypeError`` (and ``OSError`` on newer
    Pythons). Objects of the user's own can raise anything from ``__getattr__``."""
    try:
        if isinstance(obj, types.ModuleType):
            path = getattr(obj, "__file__", None)
        else:
            path = inspect.getsourcefile(obj)
    except Exception:
        return None
    return path if isinstance(path, str) and os.path.isfile(path) else None


def _wrapped(obj: Any) -> Any:
    """What a Helion Kernel or a Triton JITFunction wraps (``.fn``), else None; an attribute
    lookup that raises (a user object's ``__getattr__``) counts as none."""
    try:
        inner = getattr(obj, "fn", None)
    except Exception:
        return None
    return inner if inner is not None and inner is not obj and callable(inner) else None


def _owner(obj: Any) -> types.ModuleType | None:
    """The module ``obj`` was defined in (``__module__``), if it is imported."""
    try:
        name = getattr(obj, "__module__", None)
    except Exception:
        return None
    return sys.modules.get(name) if isinstance(name, str) else None


@dataclasses.dataclass(frozen=True)
class _Parsed:
    """What a source file's text says: the modules it imports (``(level, module, names)``) and
    the environment variables it names (``os.environ["X"]``, ``os.getenv("X")``, ``"X" in
    os.environ``...)."""

    imports: tuple[tuple[int, str, tuple[str, ...]], ...] = ()
    env: frozenset[str] = frozenset()


_ENV_WORDS = frozenset({"environ", "environb", "getenv", "getenvb"})


def _names_env(node: ast.AST) -> bool:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr in _ENV_WORDS:
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id in _ENV_WORDS


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


@functools.lru_cache(maxsize=1024)
def _parse(path: str, size: int, mtime_ns: int) -> _Parsed:
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return _Parsed()
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    env: set[str] = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Import):
            imports.extend((0, alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imports.append((node.level, node.module or "", tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Call) and node.args and _names_env(node.func):
            name = _text(node.args[0])
        elif isinstance(node, ast.Subscript) and _names_env(node.value):
            name = _text(node.slice)
        elif isinstance(node, ast.Compare) and any(_names_env(c) for c in node.comparators):
            name = _text(node.left)
        if name is not None:
            env.add(name)
    return _Parsed(tuple(imports), frozenset(env))


def _parsed(path: str) -> _Parsed:
    try:
        st = os.stat(path)
    except OSError:
        return _Parsed()
    return _parse(path, st.st_size, st.st_mtime_ns)


def _imported_modules(module: types.ModuleType, parsed: _Parsed) -> list[types.ModuleType]:
    """The imported modules (in ``sys.modules``) that ``module``'s source names in an import
    statement, anywhere in it: ``import a.b`` (``a`` and ``a.b``), ``from a import b`` (``a``,
    and ``a.b`` where that is a module), relative imports resolved against its package."""
    package = getattr(module, "__package__", None)
    found: list[types.ModuleType] = []
    for level, name, names in parsed.imports:
        if level:
            if not isinstance(package, str) or not package:
                continue
            try:
                base = importlib.util.resolve_name("." * level + name, package)
            except (ImportError, ValueError):
                continue
        else:
            base = name
        parts = base.split(".")
        candidates = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        candidates += [f"{base}.{n}" for n in names if n != "*"]
        found.extend(m for m in map(sys.modules.get, candidates) if isinstance(m, types.ModuleType))
    return found


@dataclasses.dataclass
class _Walk:
    """The user's files and modules reachable from some roots (see :func:`sources`)."""

    files: set[str] = dataclasses.field(default_factory=set)
    modules: list[types.ModuleType] = dataclasses.field(default_factory=list)


def _walk(roots: Sequence[Any]) -> _Walk:
    """Source files (outside installed packages) of ``roots`` and of everything they reach,
    transitively: the functions, classes, modules and Helion kernels a function refers to
    through global names; the module each of those was defined in; and for each module of the
    user's own, every module its source imports (however the names were bound: ``import m``,
    ``from m import NAME``, inside functions too) and every module its globals' values come from.
    The checker's own modules are hashed where a kernel function refers to them, but not walked
    into (their imports are the checker's)."""
    walk = _Walk()
    seen: dict[int, Any] = {}  # holding each object: no id is reused by a later temporary
    todo: list[Any] = list(roots)
    while todo and len(seen) < _MAX_OBJECTS:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        # Not for a module: a kernel module may well define a global named ``fn``.
        inner = None if isinstance(obj, types.ModuleType) else _wrapped(obj)
        if inner is not None:
            todo.append(inner)
            continue
        path = _source_file(obj)
        if path is None:
            continue
        kind, real = _code_file(path)
        if kind != _USER and not real.startswith(_CHECKER_DIR):
            continue  # an installed package's
        walk.files.add(real)
        if isinstance(obj, types.ModuleType):
            if not real.startswith(_CHECKER_DIR):
                walk.modules.append(obj)
                todo.extend(_module_edges(obj, real))
            continue
        if isinstance(obj, types.FunctionType):
            names = global_names(obj.__code__)
            todo.extend(obj.__globals__[n] for n in names if n in obj.__globals__)
        owner = _owner(obj)
        if owner is not None and _user_module(owner):
            todo.append(owner)
    return walk


def _user_module(module: types.ModuleType) -> bool:
    path = _source_file(module)
    return path is not None and _code_file(path)[0] == _USER


def _module_edges(module: types.ModuleType, path: str) -> list[types.ModuleType]:
    """The modules of the user's own that ``module`` (file ``path``) imports or takes values
    from; not the checker's (they are in the checker digest), not installed packages'."""
    edges = _imported_modules(module, _parsed(path))
    try:
        values = list(vars(module).values())
    except Exception:
        values = []
    for value in values:
        # A Helion kernel or Triton JITFunction belongs to the module of the function it wraps.
        edge = value if isinstance(value, types.ModuleType) else _owner(_wrapped(value) or value)
        if edge is not None and edge is not module:
            edges.append(edge)
    return [m for m in edges if _user_module(m)]


def sources(roots: Sequence[Any]) -> tuple[list[str], dict[str, Any]]:
    """The user's files reachable from ``roots`` (:func:`_walk`) and the key material they give:
    each file's digest, the digest of each file read while one of their modules was imported,
    and the value of every environment variable their source names or a module of theirs
    declares in ``KCHECK_ENV``."""
    walk = _walk(roots)
    files = sorted(walk.files)
    reads = sorted({r for f in files for r in _READS["import"].get(f, ())} - walk.files)
    env: set[str] = set()
    for path in files:
        if not path.startswith(_CHECKER_DIR):
            env |= _parsed(path).env
    for module in walk.modules:
        try:
            declared = vars(module).get(ENV_DECLARATION)
        except Exception:
            declared = None
        if isinstance(declared, (list, tuple)):
            env.update(name for name in declared if isinstance(name, str))
    return files, {
        "files": {path: file_digest(path) for path in files},
        "reads": {path: file_digest(path) for path in reads},
        "env": {name: os.environ.get(name) for name in sorted(env)},
    }


def global_names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names ``code`` and the functions nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return names


def file_digest(path: str) -> str:
    """SHA-256 of regular file ``path``; ``-`` if it is missing, ``special`` if it is not a
    regular file (a FIFO or device is never read)."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    if not stat.S_ISREG(st.st_mode):
        return "special"
    # Keyed by size and mtime too: one process may see a file edited between two runs (pytest
    # sessions in one process, an IDE's test runner), and must not keep the old digest.
    return _digest_of(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return "-"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "special"
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return "-"
    finally:
        os.close(fd)


def codegen_reads(sources: Iterable[str]) -> dict[str, str]:
    """The files that functions of ``sources`` (real paths of the user's files) read while Helion
    ran them in this process (binding the kernel, generating code: the open hook above), with
    their :func:`file_digest`."""
    found = _READS["codegen"]
    paths = {p for source in sources for p in found.get(source, ())}
    return {path: file_digest(path) for path in sorted(paths)}
