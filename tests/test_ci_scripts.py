"""ci/docker-run.sh (the docker invocation every GPU workflow job uses), run against a stand-in
``docker`` that records its arguments: this machine has no Docker engine."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

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
