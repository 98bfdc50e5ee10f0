"""ci/docker-run.sh (the docker invocation every GPU workflow job uses), run against a stand-in
``docker`` that records its arguments: this machine has no Docker engine."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_docker(tmp_path: Path) -> Path:
    """A directory for PATH whose ``docker`` writes its arguments, one per line, to argv.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv.txt\nexit 7\n')
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def _run(
    fake_docker: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "ci" / "docker-run.sh"), *args],
        cwd=fake_docker.parent,
        env={**os.environ, "PATH": f"{fake_docker}:{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_docker_run_arguments(fake_docker: Path) -> None:
    tmp = fake_docker.parent
    result = _run(
        fake_docker,
        "-v",
        f"{tmp}/baseline:/baseline:ro",
        "kcheck-ci:1-2",
        "out",
        "run",
        "-k",
        "golden and (softmax or x y)",
        "--",
        "--shard",
        "2/4",
    )
    assert result.returncode == 7, result.stderr  # docker's exit status comes through
    argv = (tmp / "argv.txt").read_text().splitlines()
    uid_gid = f"{os.getuid()}:{os.getgid()}"
    assert argv == [
        "run",
        "--rm",
        "--init",
        "--gpus",
        "all",
        "--user",
        uid_gid,
        "--env",
        "HOME=/tmp/kcheck-home",
        # Record text is escaped against workflow commands only where GITHUB_ACTIONS is set.
        "--env",
        "GITHUB_ACTIONS",
        "--volume",
        f"{tmp}/out:/opt/kcheck/reports",
        "--volume",
        f"{tmp}/baseline:/baseline:ro",
        "kcheck-ci:1-2",
        "run",
        "-k",
        "golden and (softmax or x y)",  # one argument, not re-split by the shell
        "--",
        "--shard",
        "2/4",
    ]
    assert (tmp / "out").is_dir()


def test_docker_run_gpu_selection_and_usage(fake_docker: Path) -> None:
    tmp = fake_docker.parent
    _run(fake_docker, "img", "out", env={"KCHECK_DOCKER_GPUS": '"device=0,1"'})
    argv = (tmp / "argv.txt").read_text().splitlines()
    assert argv[argv.index("--gpus") + 1] == '"device=0,1"'
    assert argv[-1] == "img"
    bad = _run(fake_docker, "only-an-image")
    assert bad.returncode == 2 and "usage: ci/docker-run.sh" in bad.stderr
    bad = _run(fake_docker, "-v")
    assert bad.returncode == 2 and "-v needs HOST:CONTAINER" in bad.stderr


# ci/install.sh against a stand-in python: the pip commands it would run, without installing.
FAKE_PYTHON = """#!{real}
import json, os, subprocess, sys
args = sys.argv[1:]
if args[:1] == ["-c"] and "tomllib" in args[1]:
    sys.exit(subprocess.call([{real!r}, *args]))
entry = {{"argv": args}}
if "-r" in args:  # the requirements file is temporary: keep its lines
    with open(args[args.index("-r") + 1]) as f:
        entry["requirements"] = [line.strip() for line in f if line.strip() and not line.startswith("#")]
with open(os.environ["FAKE_PYTHON_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
"""


def _install(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Runs ci/install.sh ARGS VENV where VENV already holds the stand-in as bin/python; returns
    the result and the stand-in's calls, one dict per call (pip's argv, a requirements file's lines)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    fake = venv / "bin" / "python"
    fake.write_text(FAKE_PYTHON.format(real=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    # The pins as they are (no overrides); PYTHON, should a venv be made, is the stand-in too.
    overrides = ("TORCH_VERSION", "TRITON_VERSION", "HELION_VERSION", "TORCH_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k not in overrides}
    result = subprocess.run(
        ["bash", str(ROOT / "ci" / "install.sh"), *args, str(venv)],
        cwd=tmp_path,
        env={**env, "FAKE_PYTHON_LOG": str(log), "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


PINS = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and line[0] != "#"]
TORCH_PIN = next(pin for pin in PINS if pin.startswith("torch=="))


def _pip_installs(calls: list[dict[str, Any]]) -> list[list[str]]:
    """The arguments after ``install --no-compile`` of each pip install, in order. Every install
    leaves bytecode to the compileall that follows it (one process per core), which must come
    after the last install."""
    installs = [c["argv"][c["argv"].index("install") + 1 :] for c in calls if "install" in c["argv"]]
    assert all(args[0] == "--no-compile" for args in installs), installs
    last_install = max(i for i, c in enumerate(calls) if "install" in c["argv"])
    compiles = [i for i, c in enumerate(calls) if c["argv"][:2] == ["-m", "compileall"]]
    assert compiles and compiles[-1] > last_install, calls
    return [args[1:] for args in installs]


def test_install_default_takes_the_dev_extras(tmp_path: Path) -> None:
    result, calls = _install(tmp_path)
    assert result.returncode == 0, result.stderr
    installs = _pip_installs(calls)
    assert installs[0] == [TORCH_PIN]
    assert installs[-1][-2:] == ["-e", f"{ROOT}[dev]"]


@pytest.mark.parametrize("flags", [["--runtime-only"], ["--runtime-only", "--deps-only"], ["--deps-only"]])
def test_install_runtime_only_leaves_out_the_dev_extras(tmp_path: Path, flags: list[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    result, calls = _install(tmp_path, *flags)
    assert result.returncode == 0, result.stderr
    installs = _pip_installs(calls)
    assert installs[0] == [TORCH_PIN]
    if flags == ["--runtime-only"]:
        assert installs[-1][-2:] == ["-e", str(ROOT)]  # this package, no extras
        return
    # --deps-only: requirements only, not this package
    assert not any("-e" in i for i in installs)
    (requirements,) = [c["requirements"] for c in calls if "requirements" in c]
    if "--runtime-only" in flags:
        assert requirements == project["dependencies"]
        assert not any("httpserver" in r or "ruff" in r for r in requirements)
    else:  # every pin of constraints.txt, dev tools included
        assert requirements == [pin for pin in PINS if pin != TORCH_PIN]
        assert any(pin.startswith("pytest-httpserver==") for pin in requirements)


def test_install_refuses_an_unknown_option(tmp_path: Path) -> None:
    result, calls = _install(tmp_path, "--runtime_only")
    assert result.returncode == 2
    assert "unknown option --runtime_only" in result.stderr
    assert calls == []


def test_ci_runs_the_main_job_with_the_runtime_dependencies_only() -> None:
    """.ci/run: a fresh venv of the distribution's python3, runtime dependencies only, and the main
    job in it before any test dependency is installed there."""
    script = (ROOT / ".ci" / "run").read_text()
    fresh = script.index("rm -rf .venv-system")
    install = script.index('PYTHON="$system_python" bash ci/install.sh --runtime-only .venv-system')
    main_job = script.index(".venv-system/bin/kcheck run --configs 0 --shapes small")
    test_deps = script.index(".venv-system/bin/python -m pip")
    assert "system_python=/usr/bin/python3" in script
    assert fresh < install < main_job < test_deps < script.index(".venv-system/bin/pytest")
