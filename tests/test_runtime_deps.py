"""The main job needs the runtime dependencies only (issue 22): ``kcheck run`` and plain
``pytest kernels`` in this repository must not load tests/conftest.py, which imports test-only
packages (pytest-httpserver, through tests/fake_github.py). A host installed with
``ci/install.sh --runtime-only`` has none of them; here they are made unimportable instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Modules of the dev extras (pyproject.toml) that test code imports.
TEST_ONLY_MODULES = ("pytest_httpserver", "liger_kernel", "fla")


@pytest.fixture
def runtime_only_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which importing a test-only module raises ImportError, as on a host
    without the dev extras: a PYTHONPATH directory whose stand-ins shadow the installed packages."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in TEST_ONLY_MODULES:
        (blocked / f"{name}.py").write_text(f'raise ImportError("{name} is test-only: blocked")\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(blocked), os.environ.get("PYTHONPATH"))))
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # -p no:pytest_httpserver: that package's pytest11 entry point, which a runtime-only host
    # does not have either (disabling it alone would not stop tests/conftest.py's import).
    return subprocess.run(
        [sys.executable, "-m", *args, "-p", "no:pytest_httpserver"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_test_only_modules_are_blocked(runtime_only_env: dict[str, str]) -> None:
    """The stand-ins work: collecting the checker's own tests (tests/conftest.py) fails on them,
    so the runs below would too if they loaded it."""
    result = _run(
        runtime_only_env,
        "pytest",
        "tests/test_cli.py",
        "--collect-only",
        "-q",
        "-n",
        "0",
        "-p",
        "no:cacheprovider",
    )
    assert result.returncode != 0
    assert "pytest_httpserver is test-only: blocked" in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["kcheck-run", "pytest-kernels"])
def test_main_job_collects_without_test_only_packages(
    runtime_only_env: dict[str, str], tmp_path: Path, command: str
) -> None:
    options = ["-n", "0", "--configs", "0", "--shapes", "small", "-k", "softmax"]
    options += [f"--reports-dir={tmp_path / 'reports'}"]
    if command == "kcheck-run":
        # No path: the bundled suite, while pyproject's testpaths name tests/ too.
        args = ["checker.cli", "run", *options, "--", "--collect-only"]
    else:
        args = ["pytest", "kernels", *options, "--collect-only", "-q", "-p", "no:cacheprovider"]
    result = _run(runtime_only_env, *args)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "blocked" not in output
    assert "kernels/softmax.py::softmax[" in result.stdout
    assert "tests/" not in result.stdout
