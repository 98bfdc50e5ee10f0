"""xdist workers per GPU: GPU enumeration, the default count, worker specs, and real xdist runs
on a CPU machine whose CUDA device count and core count are faked (the only things faked:
workers are real processes)."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from checker import gpus

# Loaded by the pytester runs (controller and workers): this machine has no GPU, so the device
# count is replaced, and the core count, so the default number of workers does not depend on the
# machine; everything after it (auto worker count, specs, the env of each worker) is real.
FAKE_GPUS_CONFTEST = textwrap.dedent(
    """
    import checker.gpus

    checker.gpus._cuda_device_count = lambda: {count}
    checker.gpus._cpu_count = lambda: {cores}
    """
)

# Each test records the CUDA_VISIBLE_DEVICES its worker process was started with.
RECORD_ENV = textwrap.dedent(
    """
    import os
    import pytest

    @pytest.mark.parametrize("i", range(16))
    def test_env(i, worker_id, pytestconfig):
        out = pytestconfig.rootpath / "seen"
        out.mkdir(exist_ok=True)
        (out / worker_id).write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    """
)


def test_visible_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(gpus, "_cuda_device_count", lambda: 0)
    assert gpus.visible_gpus() == []
    monkeypatch.setattr(gpus, "_cuda_device_count", lambda: 3)
    assert gpus.visible_gpus() == ["0", "1", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4, 6,GPU-1f2e")
    assert gpus.visible_gpus() == ["4", "6", "GPU-1f2e"]
    # CUDA counted only the devices before an invalid entry
    monkeypatch.setattr(gpus, "_cuda_device_count", lambda: 2)
    assert gpus.visible_gpus() == ["4", "6"]


def test_visible_gpus_on_this_machine_asks_torch() -> None:
    import torch

    assert len(gpus.visible_gpus()) == torch.cuda.device_count()


def test_default_workers_per_gpu_shares_out_the_cores() -> None:
    assert gpus.default_workers_per_gpu(1, cores=16) == 16  # the H100 and H200 hosts
    assert gpus.default_workers_per_gpu(8, cores=128) == 16
    assert gpus.default_workers_per_gpu(2, cores=5) == 2
    assert gpus.default_workers_per_gpu(1, cores=64) == gpus.MAX_WORKERS_PER_GPU == 16
    assert gpus.default_workers_per_gpu(4, cores=2) == 1  # never none
    assert gpus.default_workers_per_gpu(1) == min(16, gpus._cpu_count())


def test_worker_specs() -> None:
    assert gpus.worker_specs(3, ["0", "1"]) == [
        "popen//env:CUDA_VISIBLE_DEVICES=0",
        "popen//env:CUDA_VISIBLE_DEVICES=1",
        "popen//env:CUDA_VISIBLE_DEVICES=0",
    ]
    with pytest.raises(ValueError, match="at least one GPU"):
        gpus.worker_specs(2, [])
    with pytest.raises(ValueError, match="not a single CUDA device"):
        gpus.worker_specs(1, ["0,1"])


# Workers without the kcheck plugin (which imports torch and Helion in every worker): only the GPU
# module, loaded by name, so these runs take seconds. The --device test uses the whole plugin.
ONLY_GPUS = ["-p", "no:kcheck", "-p", "checker.gpus", "-p", "no:cacheprovider"]


def _seen(p: pytest.Pytester) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES by worker id in the last run (and forgets them for the next run)."""
    seen = {f.name: f.read_text() for f in sorted((p.path / "seen").iterdir())}
    shutil.rmtree(p.path / "seen")
    return seen


@pytest.fixture
def two_gpus(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory whose pytest processes see two (fake) GPUs and five (fake) cores."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    pytester.makeconftest(FAKE_GPUS_CONFTEST.format(count=2, cores=5))
    pytester.makepyfile(test_env=RECORD_ENV)
    return pytester


def test_auto_shares_the_cores_out_among_the_gpus_each_worker_pinned(two_gpus: pytest.Pytester) -> None:
    # 5 cores, 2 GPUs: 2 workers per GPU, dealt out in turn.
    result = two_gpus.runpytest("-n", "auto", *ONLY_GPUS)
    result.assert_outcomes(passed=16)
    result.stdout.fnmatch_lines(["created: 4/4 workers"])
    assert _seen(two_gpus) == {"gw0": "0", "gw1": "1", "gw2": "0", "gw3": "1"}


def test_workers_per_gpu_and_an_existing_device_list(
    two_gpus: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    result = two_gpus.runpytest("-n", "auto", "--workers-per-gpu", "1", *ONLY_GPUS)
    result.assert_outcomes(passed=16)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])
    assert _seen(two_gpus) == {"gw0": "5", "gw1": "7"}


def test_cpu_device_and_explicit_settings_are_left_alone(
    two_gpus: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --device cpu: no GPU pinning, the worker count is xdist's (here fixed by its variable).
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "1")
    result = two_gpus.runpytest("-n", "auto", "--device", "cpu", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["created: 1/1 worker"])
    assert _seen(two_gpus) == {"gw0": "unset"}
    # The environment variable beats the GPU count, and workers are still pinned.
    result = two_gpus.runpytest("-n", "auto", *ONLY_GPUS)
    result.stdout.fnmatch_lines(["created: 1/1 worker"])
    assert _seen(two_gpus) == {"gw0": "0"}


def test_bad_workers_per_gpu_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--workers-per-gpu", "0", "-p", "no:xdist", *ONLY_GPUS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --workers-per-gpu must be >= 1, got 0"])


def test_a_case_worker_shares_the_cores_among_the_runs_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's intra-op threads in a case worker: the cores divided by the run's xdist workers
    (16 case workers on a 16-core GPU host ran 16 threads each before), at least 1."""
    import types

    import torch

    from checker import exec_worker, options

    assert options.case_threads(16, cores=16) == 1
    assert options.case_threads(3, cores=16) == 5
    assert options.case_threads(1, cores=16) == 16
    assert options.case_threads(4, cores=2) == 1
    assert options.case_threads(0, cores=2) == 2
    before = torch.get_num_threads()
    monkeypatch.setattr(exec_worker, "_configured", False)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "1000")
    try:
        exec_worker._setup(types.SimpleNamespace(native=True))  # type: ignore[arg-type]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
