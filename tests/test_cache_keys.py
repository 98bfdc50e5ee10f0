"""One home for cache identity (checker/cache/keys.py): every component every key must have
reaches all four kinds of key, and the checker's own source is hashed whole."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import helion
import pytest
import torch
from conftest import kernel_source

from checker import loader, toolchain
from checker.cache import keys
from checker.compile import TensorArg
from checker.pool import CompileJob
from checker.targets import get_target

SM90 = get_target("sm_90")


def _all_keys(tmp_path: Path) -> Callable[[], dict[str, str | None]]:
    """A function computing one key of each kind (and each codegen-side entry) for fixed inputs."""
    path = tmp_path / tmp_path.name / "add.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(kernel_source())
    (spec,) = loader.specs_in([path])
    x, y = torch.ones(4, 4), torch.full((4, 4), 2.0)
    job = CompileJob(
        code="import triton\n",
        entry="add",
        args=(TensorArg((4, 4), (4, 1), torch.float32),),
        target=SM90,
        level="check",
    )

    def compute() -> dict[str, str | None]:
        group = keys.kernel_key(spec, (x, y), SM90, native=False)
        assert group is not None
        return {
            "compile": keys.compile_key(job),
            "samples": group.samples(seed=0, count=2),
            "default": group.default_config(),
            "codegen": group.code(helion.Config(block_sizes=[4, 4])),
            "run": keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y), [x + y], SM90),
        }

    return compute


def test_every_common_component_reaches_every_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compute = _all_keys(tmp_path)
    base = compute()
    assert all(k is not None and len(k) == 64 for k in base.values())
    assert len(set(base.values())) == len(base), "two kinds share a key"
    assert compute() == base

    versions = toolchain.versions()
    changes: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
        "salt": lambda m: m.setenv(keys.SALT_ENV, "another"),
        "triton setting": lambda m: m.setenv("TRITON_DEFAULT_FP_FUSION", "0"),
        "helion setting": lambda m: m.setenv("HELION_SOMETHING", "1"),
        "toolchain": lambda m: m.setattr(toolchain, "versions", lambda: {**versions, "triton": "9.9.9"}),
        "checker source": lambda m: m.setattr(keys, "checker_digest", lambda: "f" * 64),
    }
    for name, change in changes.items():
        with monkeypatch.context() as m:
            change(m)
            after = compute()
        for kind, key in after.items():
            assert key != base[kind], f"{name} does not reach the {kind} key"
    # Settings that change nothing compiled: same keys.
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert compute() == base


def test_the_checker_digest_covers_every_module_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a hand-written list of deciding modules: a change to any checker module (here one
    that only renders reports) gives a new digest, and so a miss everywhere."""
    copy = tmp_path / "checker"
    shutil.copytree(keys._PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(keys, "_PACKAGE", copy)
    keys.checker_digest.cache_clear()
    try:
        before = keys.checker_digest()
        terminal = copy / "report" / "terminal.py"
        terminal.write_text(terminal.read_text() + "\n# changed\n")
        keys.checker_digest.cache_clear()
        assert keys.checker_digest() != before
        terminal.rename(copy / "report" / "terminal2.py")  # same bytes, another module
        keys.checker_digest.cache_clear()
        renamed = keys.checker_digest()
        assert renamed != before
    finally:
        keys.checker_digest.cache_clear()


_IDENTITY_PROBE = """
import json, sys
from pathlib import Path
import helion
from checker import loader
from checker.cache import identity
(spec,) = loader.specs_in([Path(sys.argv[1])])
files, material = identity.sources([spec.kernel])
print(json.dumps({"helion": helion.__file__, "files": files, "reads": material["reads"]}))
"""


def test_packages_installed_with_pip_target_are_not_the_users(tmp_path: Path) -> None:
    """Helion installed with ``pip install --target DIR`` and found through PYTHONPATH, as on the
    GPU image (ci/device-setup.sh): its files are a library's, not the user's. They were taken
    for the user's own, so every kernel key hashed Helion's sources and a temp file its import
    creates, a new name in every process: the stage cache never hit on the H100 (session 13,
    warm passes with codegen_cached on none of 861 records)."""
    import importlib.metadata
    import json
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(Path(helion.__file__).parent, site / "helion")
    dist = importlib.metadata.distribution("helion")
    info = Path(str(dist.locate_file(""))) / f"helion-{dist.version}.dist-info"
    shutil.copytree(info, site / info.name)
    kernel = tmp_path / "kernels" / "add.py"
    kernel.parent.mkdir()
    kernel.write_text(kernel_source())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path.cwd())])}
    out = subprocess.run(
        [sys.executable, "-c", _IDENTITY_PROBE, str(kernel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    assert found["helion"].startswith(str(site))  # the copy, not the venv's
    assert found["files"] == [str(kernel.resolve())]
    assert found["reads"] == {}  # the temp file helion's import creates is not the kernel's input
