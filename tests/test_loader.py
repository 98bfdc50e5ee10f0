"""Kernel suites outside the repository: loading (checker/loader.py), `--kernels`, `kcheck run
PATH`, golden directories beside a suite, repro commands pasted from elsewhere, and the errors
for paths that hold nothing."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import kernel_source

from checker import loader, options, rerun

# A running max with hl.associative_scan whose combine function, a scale factor and a host-code
# helper are module-level globals: Helion's generated code imports this module by name.
SCAN_KERNEL = textwrap.dedent(
    '''
    """Running max along rows (hl.associative_scan with a module-level combine function)."""
    import helion
    import helion.language as hl
    import torch

    from checker.spec import DEFAULT, KernelSpec

    SCALE = 2.0


    def combine_max(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.maximum(left, right)


    def out_shape(x: torch.Tensor) -> list[int]:
        return [x.size(0), x.size(1)]


    @helion.kernel(static_shapes=True)
    def cummax(x: torch.Tensor) -> torch.Tensor:
        m, n = x.size()
        out = torch.empty(out_shape(x), dtype=x.dtype, device=x.device)
        for tile_m in hl.tile(m):
            row = x[tile_m, :] * SCALE
            out[tile_m, :] = hl.associative_scan(combine_max, row, dim=1)
        return out


    SPEC = KernelSpec(
        name="cummax",
        kernel=cummax,
        reference=lambda x: torch.cummax(x * SCALE, dim=1).values,
        make_inputs=lambda shape, dtype, gen: (torch.randn(shape, generator=gen).to(dtype),),
        shapes=[(256, 512)],
        small_shapes=[(8, 32)],
        dtypes=[torch.float32],
        configs={"default": DEFAULT},
    )
    '''
)


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """An outside suite: /tmp/.../suite/specs/{cummax,add}.py, no ini anywhere near it."""
    specs = tmp_path / "suite" / "specs"
    specs.mkdir(parents=True)
    (specs / "cummax.py").write_text(SCAN_KERNEL)
    (specs / "add.py").write_text(kernel_source())
    return specs


def _kcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checker.cli", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_module_globals_import_in_every_process(suite: Path, tmp_path: Path) -> None:
    """The scan kernel's generated code imports its module: in the pytest process (interpreter
    cases), in compile workers (full shapes) and, with -n 1 --isolate on, in an xdist worker
    and its case worker. Before checker/loader.py every case was a runtime-error
    (ModuleNotFoundError: No module named 'kcheck_kernels')."""
    for extra in (["-n", "0"], ["-n", "1", "--isolate", "on"]):
        reports = tmp_path / f"reports{len(extra)}"
        proc = _kcheck(
            str(suite / "cummax.py"), "--configs", "1", "--reports-dir", str(reports), *extra, cwd=tmp_path
        )
        records = _records(reports / "results.jsonl")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        categories = sorted(str(r["category"]) for r in records)
        # On a GPU the full shapes run natively too; on CPU they are compiled, not run.
        full = ["passed", "passed"] if torch.cuda.is_available() else ["not-run", "not-run"]
        assert categories == sorted([*full, "passed", "passed"]), categories
        assert all("compiled for sm_90" in str(r["message"]) for r in records if r["category"] == "not-run")


def test_outside_suite_goldens_inside_it_and_repro_from_anywhere(suite: Path, tmp_path: Path) -> None:
    """`kcheck run DIR` from an unrelated directory: golden checks are off (and say why) until
    `--update-golden` creates golden/ inside the suite; then they run. A failing case's printed
    repro, pasted in yet another directory, reproduces the same category."""
    (suite / "add.py").write_text(kernel_source(reference="lambda x, y: x - y"))
    work = tmp_path / "work"
    work.mkdir()
    common = ["--configs", "0", "--shapes", "small", "-n", "0"]
    first = _kcheck(str(suite), *common, "-k", "add", "--reports-dir", "r1", cwd=work)
    assert first.returncode == 1
    assert f"golden checks are off: {suite / 'golden'} (in the kernel suite) does not exist" in first.stdout
    bless = _kcheck(
        str(suite), *common, "-k", "add and golden", "--update-golden", "--reports-dir", "r2", cwd=work
    )
    assert bless.returncode == 0, bless.stdout[-3000:]
    blessed = sorted(p.name for p in (suite / "golden").rglob("*.triton"))
    assert len(blessed) == 4, blessed  # add: 2 named configs x 2 dtypes on the first full shape
    again = _kcheck(str(suite), *common, "-k", "add and golden", "--reports-dir", "r3", cwd=work)
    assert again.returncode == 0, again.stdout[-3000:]
    # A golden-only run: its own directory is `last`; `latest` (a full run) it never becomes.
    assert not (work / "r3" / "latest").exists()
    golden = [r for r in _records(work / "r3" / "last" / "results.jsonl") if r["mode"] == "golden"]
    assert [r["category"] for r in golden] == ["passed"] * 4

    failed = [r for r in _records(work / "r1" / "results.jsonl") if r["category"] != "passed"]
    assert failed and all(r["category"] == "numerical-mismatch" for r in failed)
    repro = str(failed[0]["repro"])
    argv = shlex.split(repro)
    # A checker that is not pip-installed adds `env PYTHONPATH=...` in front (test below).
    assert sys.executable in argv[:3], argv[:3]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        shlex.split(repro), cwd=elsewhere, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    # A pasted repro writes its reports apart, never over a run's reports/ where it is pasted.
    assert not (elsewhere / "reports").exists()
    name = f"{failed[0]['case']['name']}"
    (again_rec,) = _records(elsewhere / rerun.repro_reports_dir(name) / "results.jsonl")
    assert again_rec["case"] == failed[0]["case"]
    assert again_rec["category"] == "numerical-mismatch"
    assert again_rec["signature"] == failed[0]["signature"]


def test_repro_command_of_a_source_tree_run_loads_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rerun, "plugin_installed", False)
    monkeypatch.setenv("PYTHONPATH", "/opt/site")
    argv = shlex.split(
        rerun.repro_command(
            Path("kernels/add.py"), "add[8x16-fp32-default]", options.defaults().replace(configs=2)
        )
    )
    source = str(Path(rerun.__file__).resolve().parents[1])
    assert argv[:2] == ["env", f"PYTHONPATH={source}{os.pathsep}/opt/site"]
    assert argv[2:5] == [sys.executable, "-m", "pytest"]
    assert argv[5] == f"{Path('kernels/add.py').resolve()}::add[8x16-fp32-default]"
    assert argv[-2:] == ["-p", "checker.plugin"]


def test_paths_that_hold_nothing_are_errors(tmp_path: Path, pytester: pytest.Pytester) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_helper.py").write_text("X = 1\n")
    for args, message in (
        (["--kernels", str(tmp_path / "nope")], f"--kernels: {tmp_path / 'nope'} does not exist"),
        (["--kernels", str(empty)], f"--kernels: {empty} holds no kernel modules"),
        (["-o", "kcheck_kernel_paths=nope"], "kcheck_kernel_paths (in"),
    ):
        result = pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, args
        assert message in "\n".join(result.errlines), (args, result.errlines)
    proc = _kcheck(str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "does not exist" in proc.stderr


def test_k_that_selects_nothing_lists_the_kernels(suite: Path, tmp_path: Path) -> None:
    for workers in ("0", "2"):
        proc = _kcheck(str(suite), "-k", "rmsnorm", "-n", workers, cwd=tmp_path)
        assert proc.returncode == pytest.ExitCode.NO_TESTS_COLLECTED
        assert "kcheck: -k 'rmsnorm' selects no case; kernels: add, cummax" in proc.stdout, proc.stdout


def test_kcheck_run_passes_ini_overrides(kernel_dir: pytest.Pytester) -> None:
    """`kcheck run -o NAME=VALUE` reaches pytest as one option (it used to lose its value)."""
    proc = _kcheck(
        "kernels", "-o", "kcheck_golden_dir=gold", "--configs", "0", "--shapes", "small", "-n", "0",
        cwd=kernel_dir.path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "golden-missing" in proc.stdout  # the override named a golden directory with no files


def test_module_names_are_stable_and_collisions_refused(tmp_path: Path) -> None:
    # A directory name no other test uses: the loaded module stays in this process.
    a = tmp_path / "a" / "loader_probe"
    b = tmp_path / "b" / "loader_probe"
    for d in (a, b):
        d.mkdir(parents=True)
        (d / "add.py").write_text("X = 1\n")
    name = "kcheck_kernels.loader_probe__add"
    assert loader.module_name(a / "add.py") == name
    try:
        assert loader.load(a / "add.py").X == 1
        with pytest.raises(
            loader.LoaderError, match=r"would both be imported as kcheck_kernels\.loader_probe__add"
        ):
            loader.register(b / "add.py")
    finally:
        sys.modules.pop(name, None)
    # Once the first module is gone (a harness restored sys.modules), the name may move.
    assert loader.register(b / "add.py") == name
