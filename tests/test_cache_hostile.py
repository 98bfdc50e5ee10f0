"""The caches against a hostile or careless cache directory and against kernels whose generated
code depends on more than their own file (issue 23): symlinks, FIFOs, sockets and devices in the
cache; entries edited, copied under another key or signed with another secret; values reached
through another module, a data file, an environment variable.

Each scenario is reproduced for real: the store tests plant what the issue's probe planted, and
the identity tests run a real Helion kernel through ``execute.check_case`` twice with a cache,
changing one input in between, where the old code replayed the first run's pass.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import socket
import stat
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import kernel_source

from checker import execute, loader, prepare, run_options
from checker.attempts import CompileAttempts
from checker.cache import compile_cache, identity, keys, stages, store
from checker.cache.store import prune
from checker.categories import Category
from checker.diagnostics import Diagnosis
from checker.model import CaseId, Record
from checker.pool import Error
from checker.results.jsonl import read_records
from checker.targets import get_target, use_target_on_cpu

SM90 = get_target("sm_90")


@pytest.fixture(autouse=True)
def _own_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key file of this test's own (checker.cache.store.key_file), not the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KCHECK_CACHE_SECRET", raising=False)
    monkeypatch.delenv("KCHECK_CACHE_SALT", raising=False)


def _numel() -> CompileAttempts:
    d = Diagnosis(Category.NUMEL_OVERFLOW, "numel (2097152) exceeds", "abcdef012345", {"numel": 2097152})
    return CompileAttempts(Error(d, seconds=0.8, stderr_tail="log"))


def _within(seconds: float, fn: Callable[[], Any], unblock: Callable[[], None]) -> tuple[bool, Any]:
    """Run ``fn`` in a thread; (whether it returned within ``seconds``, its result). ``unblock``
    then releases a thread still blocked (so the test never hangs)."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    returned = not thread.is_alive()
    unblock()
    thread.join(10)
    return returned, out.get("value")


# -- regular files only, inside the directory --------------------------------------------------


def test_a_symlinked_entry_is_neither_read_nor_kept(tmp_path: Path) -> None:
    """An entry that is a symlink to a real entry elsewhere: not followed (a miss), the link
    removed, its target untouched. (The old store read through it: a hit.)"""
    k = "ab" * 32
    elsewhere = compile_cache.CompileCache(tmp_path / "elsewhere")
    assert elsewhere.put(k, _numel())
    target = elsewhere.path(k)
    before = target.read_bytes()
    store = compile_cache.CompileCache(tmp_path / "kc")
    store.path(k).parent.mkdir(parents=True)
    store.path(k).symlink_to(target)
    assert store.get(k, 60.0) is None
    assert not store.path(k).is_symlink() and target.read_bytes() == before
    assert store.put(k, _numel()) and store.get(k, 60.0) is not None
    assert not store.path(k).is_symlink() and target.read_bytes() == before


@pytest.mark.parametrize("level", ["kind", "bucket"])
def test_entries_are_never_written_through_a_symlinked_directory(tmp_path: Path, level: str) -> None:
    """``<root>/compile`` or ``<root>/compile/<2 hex>`` planted as a symlink to a directory
    elsewhere: a store replaces the link with a directory of its own and writes nothing there.
    (The old store wrote the entry into the other directory.)"""
    k = "cd" * 32
    outside = tmp_path / "outside"
    outside.mkdir()
    store = compile_cache.CompileCache(tmp_path / "kc")
    link = store.path(k).parent.parent if level == "kind" else store.path(k).parent
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    assert store.put(k, _numel())
    assert not list(outside.rglob("*")), list(outside.rglob("*"))
    assert not link.is_symlink() and link.is_dir()
    assert store.get(k, 60.0) is not None


def test_a_symlinked_bucket_is_not_read_through(tmp_path: Path) -> None:
    """A bucket directory that links to another cache's bucket holding a valid entry: a miss.
    (The old store read through it: a hit.)"""
    k = "9a" * 32
    elsewhere = compile_cache.CompileCache(tmp_path / "elsewhere")
    assert elsewhere.put(k, _numel())
    store = compile_cache.CompileCache(tmp_path / "kc")
    store.path(k).parent.parent.mkdir(parents=True)
    store.path(k).parent.symlink_to(elsewhere.path(k).parent, target_is_directory=True)
    assert store.get(k, 60.0) is None
    assert elsewhere.path(k).exists()


def test_prune_never_deletes_outside_the_cache(tmp_path: Path) -> None:
    """``<root>/compile`` planted as a symlink to a directory shaped like a bucket tree: a prune
    to 0 bytes deletes nothing there (the old prune deleted every file), removes the link, and
    deletes only files named as entries and temp files are (a foreign file in a bucket stays)."""
    outside = tmp_path / "victim"
    (outside / "ab").mkdir(parents=True)
    victims = [outside / "ab" / f"{'ab' * 32}.json", outside / "ab" / "notes.json"]
    for v in victims:
        v.write_text("precious")
    root = tmp_path / "kc"
    root.mkdir()
    (root / "compile").symlink_to(outside, target_is_directory=True)
    store = compile_cache.CompileCache(root)
    runs = stages.StageCache(root)
    k = "ef" * 32
    # A real entry of another kind, a foreign file beside it, a symlinked entry to a victim.
    assert runs.put_code(keys.KernelKey("0" * 64, []), _FakeConfig(), "code")
    (bucket,) = (root / "codegen").iterdir()
    (bucket / "README.json").write_text("not ours")
    (bucket / f"{'12' * 32}.json").symlink_to(victims[0])

    removed = prune(root, 0)
    assert all(v.read_text() == "precious" for v in victims)
    assert not (root / "compile").exists()
    assert (bucket / "README.json").read_text() == "not ours"
    assert not (bucket / f"{'12' * 32}.json").is_symlink()
    assert not list(bucket.glob("[0-9a-f]*.json"))  # the real entry, least recently used, went
    assert root / "compile" in removed
    assert store.put(k, _numel()) and store.get(k, 60.0) is not None


class _FakeConfig:
    """Enough of a helion.Config for config_dict: its knob dict."""

    config: ClassVar[dict[str, Any]] = {"block_sizes": [8]}


def test_a_fifo_planted_as_an_entry_never_blocks_and_is_removed(tmp_path: Path) -> None:
    """The issue's probe: a FIFO under an entry's name blocked every case until --run-timeout and
    stayed. A lookup returns at once (a miss), removes it, and a store then works."""
    k = "f0" * 32
    store = compile_cache.CompileCache(tmp_path / "kc")
    fifo = store.path(k)
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)

    def unblock() -> None:
        # A reader blocked in open() (the old store) returns once a writer opens the FIFO.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    returned, value = _within(5.0, lambda: store.get(k, 60.0), unblock)
    assert returned, "the lookup blocked on the FIFO"
    assert value is None and not os.path.lexists(fifo)
    assert store.put(k, _numel()) and store.get(k, 60.0) is not None


def test_sockets_and_devices_planted_as_entries_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = compile_cache.CompileCache(tmp_path / "kc")
    planted: list[Path] = []
    k_sock = "a1" * 32
    store.path(k_sock).parent.mkdir(parents=True)
    monkeypatch.chdir(store.path(k_sock).parent)  # a socket's path must fit in 108 bytes
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(store.path(k_sock).name)
    planted.append(store.path(k_sock))
    k_dev = "a2" * 32
    store.path(k_dev).parent.mkdir(parents=True)
    try:
        os.mknod(store.path(k_dev), stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null
        planted.append(store.path(k_dev))
    except (PermissionError, OSError):
        pass  # no CAP_MKNOD here: the socket stands for it
    for path in planted:
        key = path.stem
        assert store.get(key, 60.0) is None
        assert not os.path.lexists(path), path
        assert store.put(key, _numel()) and store.get(key, 60.0) is not None


def test_a_cache_directory_that_is_itself_a_symlink_works(tmp_path: Path) -> None:
    """The directory the user names may be a link (a cache on another disk); only what is below
    it is never followed."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    store = compile_cache.CompileCache(tmp_path / "link")
    assert store.put("b1" * 32, _numel()) and store.get("b1" * 32, 60.0) is not None
    assert len(list(real.rglob("*.json"))) == 1
    assert len(prune(tmp_path / "link", 0)) == 1 and not list(real.rglob("*.json"))


# -- signed entries: bound to their key, kind and this cache's secret ---------------------------


def test_secret_key_file_is_made_private_and_refused_when_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    key_file = tmp_path / "config" / "kcheck" / "cache-key"
    assert store.key_file() == key_file
    first = store.secret()
    assert first is not None and len(first) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert store.secret() == first
    assert compile_cache.CompileCache(tmp_path / "kc").put("c1" * 32, _numel())

    key_file.chmod(0o640)  # readable by the group: anyone in it could sign entries
    assert store.secret() is None
    kc = compile_cache.CompileCache(tmp_path / "kc")
    assert kc.get("c1" * 32, 60.0) is None and not kc.put("c2" * 32, _numel())
    key_file.chmod(0o600)
    assert kc.get("c1" * 32, 60.0) is not None

    elsewhere = tmp_path / "other-key"
    shutil.copy(key_file, elsewhere)
    elsewhere.chmod(0o600)
    key_file.unlink()
    key_file.symlink_to(elsewhere)
    assert store.secret() is None

    monkeypatch.setenv("KCHECK_CACHE_SECRET", "from a CI secret")
    assert store.secret() is not None and store.secret() != first


def test_entries_signed_with_another_secret_are_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache written by another user or another CI secret: every entry misses (and is replaced);
    the same secret again hits."""
    kc = compile_cache.CompileCache(tmp_path / "kc")
    monkeypatch.setenv("KCHECK_CACHE_SECRET", "trusted")
    assert kc.put("d1" * 32, _numel()) and kc.get("d1" * 32, 60.0) is not None
    monkeypatch.setenv("KCHECK_CACHE_SECRET", "a fork's")
    assert kc.get("d1" * 32, 60.0) is None
    assert kc.put("d1" * 32, _numel())
    monkeypatch.setenv("KCHECK_CACHE_SECRET", "trusted")
    assert kc.get("d1" * 32, 60.0) is None


def _payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """An entry's content: inside the signed envelope now, the whole file before."""
    data = envelope.get("data", envelope)
    assert isinstance(data, dict)
    return data


def _kernel(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name / "add.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def _check_file(kernel: Path, case: CaseId, root: Path, fresh: tuple[str, ...] = ()) -> Record:
    """``check_case`` as a new process would run it: the kernel module and ``fresh`` modules of
    the user's imported afresh, generated modules too (an in-process rerun would otherwise reuse
    the generated module bound to the old kernel module), no in-process group cache."""
    for name in list(sys.modules):
        if name in fresh or name.startswith(("kcheck_kernels.", "kcheck_gen_")):
            del sys.modules[name]
    importlib.invalidate_caches()
    (spec,) = loader.specs_in([kernel])
    prepare.clear_caches()
    opts = run_options.RunOptions(0, SM90, native=False, n_configs=0, compile="off", cache_dir=str(root))
    return execute.check_case(spec, case, opts)


CASE = CaseId("add", (8, 16), "fp32", "default")
WRONG = kernel_source().replace("x[tile] + y[tile]", "x[tile] - y[tile]")


def test_a_failure_edited_to_passed_is_a_miss(tmp_path: Path) -> None:
    """The issue's probe: an interpreter verdict entry edited to say ``passed`` was taken as a
    pass. Now it fails its signature: a miss, and the case fails as it does."""
    use_target_on_cpu(SM90)
    root = tmp_path / "kc"
    kernel = _kernel(tmp_path, f"{tmp_path.name}_w", WRONG)
    cold = _check_file(kernel, CASE, root)
    assert cold.category is Category.NUMERICAL_MISMATCH
    (entry,) = (root / "run").glob("*/*.json")
    envelope = json.loads(entry.read_text())
    _payload(envelope).update(category="passed", message="", signature=None)
    entry.write_text(json.dumps(envelope))
    again = _check_file(kernel, CASE, root)
    assert again.category is Category.NUMERICAL_MISMATCH and "run_cached" not in again.fields


def test_a_pass_copied_under_another_key_is_a_miss(tmp_path: Path) -> None:
    """A passing kernel's verdict entry copied over a failing kernel's: bound to its own key, it
    is a miss there. (The old store replayed the pass for the wrong kernel.)"""
    use_target_on_cpu(SM90)
    root = tmp_path / "kc"
    good = _kernel(tmp_path, f"{tmp_path.name}_g", kernel_source())
    bad = _kernel(tmp_path, f"{tmp_path.name}_b", WRONG)
    assert _check_file(good, CASE, root).category is Category.PASSED
    (passed,) = (root / "run").glob("*/*.json")
    assert _check_file(bad, CASE, root).category is Category.NUMERICAL_MISMATCH
    (failed,) = set((root / "run").glob("*/*.json")) - {passed}
    shutil.copy(passed, failed)
    again = _check_file(bad, CASE, root)
    assert again.category is Category.NUMERICAL_MISMATCH and "run_cached" not in again.fields


# -- the kernel identity: every way a value reaches the generated code --------------------------

#: A kernel scaling by SCALE, checked against a reference that scales by 2: it passes exactly
#: while SCALE is 2. ``PRELUDE`` is how SCALE gets into the kernel module.
SCALED = """
import os
import pathlib

import helion
import helion.language as hl
import torch

from checker.spec import KernelSpec

PRELUDE


@helion.kernel(static_shapes=True)
def scaled(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * SCALE_EXPR
    return out


def reference(x):
    return x * 2.0


SPEC = KernelSpec(
    name="scaled",
    kernel=scaled,
    reference=reference,
    make_inputs=lambda shape, dtype, gen: (torch.randn(shape, generator=gen).to(dtype),),
    shapes=[(8, 16)],
    small_shapes=[(8, 16)],
    dtypes=[torch.float32],
    configs={"default": helion.Config(block_sizes=[8, 16])},
)
"""
SCALED_CASE = CaseId("scaled", (8, 16), "fp32", "default")
#: Module names of the user's (on sys.path through the test's lib/ directory).
USER_MODULES = ("k23_consts", "k23_helpers")


def _scaled(tmp_path: Path, prelude: str, expr: str = "SCALE") -> Path:
    source = SCALED.replace("PRELUDE", textwrap.dedent(prelude)).replace("SCALE_EXPR", expr)
    path = tmp_path / f"{tmp_path.name}_k" / "scaled.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory of the user's modules on sys.path (removed after the test)."""
    directory = tmp_path / "lib"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield directory
    for name in USER_MODULES:
        sys.modules.pop(name, None)


def _twice(kernel: Path, root: Path, change: Callable[[], object]) -> tuple[Record, Record]:
    """A cold check (passes, SCALE is 2), ``change`` (SCALE becomes 3.25 some way), a rerun."""
    use_target_on_cpu(SM90)
    cold = _check_file(kernel, SCALED_CASE, root, USER_MODULES)
    assert cold.category is Category.PASSED, cold.message
    change()
    return cold, _check_file(kernel, SCALED_CASE, root, USER_MODULES)


def _fails_afresh(rec: Record) -> None:
    assert rec.category is Category.NUMERICAL_MISMATCH, (rec.category, rec.fields)
    assert "run_cached" not in rec.fields


def test_a_constant_imported_by_name_from_another_file(tmp_path: Path, lib: Path) -> None:
    """The issue's first false green: ``from consts import SCALE``; editing consts.py replayed the
    cached pass (codegen and verdict), exit 0."""
    (lib / "k23_consts.py").write_text("SCALE = 2.0\n")
    kernel = _scaled(tmp_path, "from k23_consts import SCALE")
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: (lib / "k23_consts.py").write_text("SCALE = 3.25\n"))
    _fails_afresh(rerun)


def test_a_constant_read_as_a_module_attribute(tmp_path: Path, lib: Path) -> None:
    """``import consts; consts.SCALE`` (tracked before too: the walk over the kernel's globals)."""
    (lib / "k23_consts.py").write_text("SCALE = 2.0\n")
    kernel = _scaled(tmp_path, "import k23_consts", expr="k23_consts.SCALE")
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: (lib / "k23_consts.py").write_text("SCALE = 3.25\n"))
    _fails_afresh(rerun)


def test_a_constant_imported_transitively(tmp_path: Path, lib: Path) -> None:
    """The kernel imports a name from helpers, which took it from consts: editing consts misses."""
    (lib / "k23_consts.py").write_text("SCALE = 2.0\n")
    (lib / "k23_helpers.py").write_text("from k23_consts import SCALE as _S\n\nFACTOR = _S * 1.0\n")
    kernel = _scaled(tmp_path, "from k23_helpers import FACTOR as SCALE")
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: (lib / "k23_consts.py").write_text("SCALE = 3.25\n"))
    _fails_afresh(rerun)


@pytest.mark.parametrize("reader", ["kernel", "helper"])
def test_a_data_file_read_at_import(tmp_path: Path, lib: Path, reader: str) -> None:
    """SCALE read from a data file when the kernel module (or a module it imports) is imported:
    the audit hook saw the read, and the file's digest is in the key."""
    data = tmp_path / "scale.txt"
    data.write_text("2.0")
    read = f"SCALE = float(pathlib.Path({str(data)!r}).read_text())"
    if reader == "kernel":
        kernel = _scaled(tmp_path, read)
    else:
        (lib / "k23_helpers.py").write_text(f"import pathlib\n\n{read}\n")
        kernel = _scaled(tmp_path, "from k23_helpers import SCALE")
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: data.write_text("3.25"))
    _fails_afresh(rerun)


def test_a_data_file_read_while_helion_traces_a_helper(tmp_path: Path, lib: Path) -> None:
    """A helper the kernel calls in device code reads its factor from a file each time it runs:
    Helion runs it while binding the kernel, so the factor is baked into the generated code, and
    no warm process reads the file. The codegen entries list the file with its digest."""
    data = tmp_path / "factor.txt"
    data.write_text("2.0")
    prelude = f"""
    def SCALE():
        return float(pathlib.Path({str(data)!r}).read_text())
    """
    kernel = _scaled(tmp_path, prelude, expr="SCALE()")
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: data.write_text("3.25"))
    _fails_afresh(rerun)
    assert "codegen_cached" not in rerun.fields


def test_an_environment_variable_named_or_declared(
    tmp_path: Path, lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.environ.get("K23_SCALE")`` is seen in the source; a name the source computes is
    covered by declaring it in ``KCHECK_ENV``."""
    monkeypatch.setenv("K23_SCALE", "2.0")
    monkeypatch.setenv("K23_OTHER", "2.0")
    prelude = """
    NAME = "K23_" + "OTHER"
    KCHECK_ENV = [NAME]
    SCALE = float(os.environ.get("K23_SCALE", "1")) * float(os.environ[NAME]) / 2.0
    """
    kernel = _scaled(tmp_path, prelude)
    _, rerun = _twice(kernel, tmp_path / "kc", lambda: monkeypatch.setenv("K23_SCALE", "3.25"))
    _fails_afresh(rerun)
    monkeypatch.setenv("K23_SCALE", "2.0")
    assert _check_file(kernel, SCALED_CASE, tmp_path / "kc", USER_MODULES).category is Category.PASSED
    monkeypatch.setenv("K23_OTHER", "3.25")
    _fails_afresh(_check_file(kernel, SCALED_CASE, tmp_path / "kc", USER_MODULES))


def test_the_salt_forces_a_miss_for_what_no_key_observes(
    tmp_path: Path, lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment variable read under a computed name and not declared is not observed (the
    README says so): the cached pass comes back. ``KCHECK_CACHE_SALT`` set anew forces a miss."""
    monkeypatch.setenv("K23_HIDDEN", "2.0")
    kernel = _scaled(tmp_path, 'SCALE = float(os.environ["K23_" + "HIDDEN"])')
    _, stale = _twice(kernel, tmp_path / "kc", lambda: monkeypatch.setenv("K23_HIDDEN", "3.25"))
    assert stale.category is Category.PASSED and stale.fields["run_cached"] is True
    monkeypatch.setenv("KCHECK_CACHE_SALT", "after changing K23_HIDDEN")
    _fails_afresh(_check_file(kernel, SCALED_CASE, tmp_path / "kc", USER_MODULES))


def test_modules_without_a_file_and_objects_that_raise_are_walked(tmp_path: Path, lib: Path) -> None:
    """Built-in modules (no ``__file__``: issue 22), a module object made at run time, a global
    whose ``__getattr__`` raises and a global named ``fn``: the walk over the kernel module goes
    past them, to the module of the user's it imports inside a function."""
    (lib / "k23_consts.py").write_text("SCALE = 2.0\n")
    source = kernel_source(
        extra="""
        import sys
        import types
        import builtins

        DYNAMIC = types.ModuleType("k23_dynamic")

        class Hostile:
            def __getattr__(self, name):
                raise RuntimeError(name)

        HOSTILE = Hostile()

        def fn():
            from k23_consts import SCALE
            return SCALE

        fn()
        """
    )
    spec = loader.specs_in([_kernel(tmp_path, tmp_path.name, source)])[0]
    files, material = identity.sources([spec.kernel])
    assert {Path(f).name for f in files} == {"add.py", "k23_consts.py"}
    assert set(material) == {"files", "reads", "env"}
    module = sys.modules[spec.kernel.fn.__module__]
    assert {Path(f).name for f in identity.sources([module])[0]} == {"add.py", "k23_consts.py"}


def test_a_stale_pass_from_a_name_imported_from_another_file_end_to_end(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's scenario as a user runs it: two runs of the suite with one cache, consts.py
    edited in between. The second run fails the case, as ``--no-cache`` does."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "k23e_consts.py").write_text("SCALE = 2.0\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")]))
    pytester.syspathinsert(lib)
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    source = SCALED.replace("PRELUDE", "from k23e_consts import SCALE").replace("SCALE_EXPR", "SCALE")
    (pytester.path / "kernels" / "scaled.py").write_text(source)
    root = tmp_path / "kc"

    def run(*extra: str) -> dict[str, Record]:
        result = pytester.runpytest("--configs", "0", "-p", "no:xdist", f"--cache-dir={root}", *extra)
        records = {r.case.name: r for r in read_records(pytester.path / "reports" / "results.jsonl")}
        assert records, result.outlines[-20:]
        return records

    assert {r.category for r in run().values()} == {Category.PASSED}
    time.sleep(0.01)
    (lib / "k23e_consts.py").write_text("SCALE = 3.25\n")
    sys.modules.pop("k23e_consts", None)
    rerun = run()
    assert {r.category for r in rerun.values()} == {Category.NUMERICAL_MISMATCH}, rerun
    assert not any(r.fields.get("run_cached") for r in rerun.values())
