"""One pytest-xdist worker per GPU on multi-GPU hosts, loaded by the kcheck plugin.

On a host with CUDA devices (and ``--device`` other than ``cpu``):

- ``-n auto`` (and ``kcheck run``, which passes it) starts ``--workers-per-gpu`` workers per
  visible GPU instead of one per CPU core; by default the host's cores divided by its GPUs, at
  least 1 and at most MAX_WORKERS_PER_GPU (:func:`default_workers_per_gpu`);
- every ``popen`` worker is started with ``CUDA_VISIBLE_DEVICES`` naming one GPU, dealt out in
  turn (``gw0`` -> first GPU, ``gw1`` -> second, ...), so each worker sees a single device as
  ``cuda:0``. The variable is set through execnet's ``popen//env:NAME=VALUE`` worker spec, i.e.
  before the worker imports anything, and a worker that xdist replaces after a crash gets the
  same GPU again.

An existing ``CUDA_VISIBLE_DEVICES`` restricts the GPUs dealt out; ``PYTEST_XDIST_AUTO_NUM_WORKERS``
and explicit ``--tx`` specs still take precedence, and ``-n 0`` / ``-p no:xdist`` pin nothing.
"""

from __future__ import annotations

import os

import pytest

from checker import options
from checker.options import MAX_WORKERS_PER_GPU

_CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


_cpu_count = options.usable_cores


def default_workers_per_gpu(gpus: int, cores: int | None = None) -> int:
    """Workers per GPU when ``--workers-per-gpu`` is not given: the cores shared out among the
    ``gpus`` (``cores`` default: this process's), at least 1, at most MAX_WORKERS_PER_GPU."""
    cores = _cpu_count() if cores is None else cores
    return max(1, min(MAX_WORKERS_PER_GPU, cores // max(1, gpus)))


def _cuda_device_count() -> int:
    # Imported here so that `pytest --help` and CPU-only runs do not pay for torch up front.
    import torch

    return int(torch.cuda.device_count())


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as values for ``CUDA_VISIBLE_DEVICES`` (indices, or the
    UUIDs already listed in that variable); empty without a usable CUDA device."""
    count = _cuda_device_count()
    if count <= 0:
        return []
    listed = os.environ.get(_CUDA_VISIBLE_DEVICES)
    if listed is None:
        return [str(i) for i in range(count)]
    # CUDA stops at the first invalid entry and reports only the devices before it: keep those.
    return [entry.strip() for entry in listed.split(",") if entry.strip()][:count]


def worker_specs(workers: int, gpus: list[str]) -> list[str]:
    """xdist ``--tx`` specs for ``workers`` popen workers, worker ``k`` pinned to ``gpus[k % len]``."""
    if not gpus:
        raise ValueError("worker_specs needs at least one GPU")
    for gpu in gpus:
        if not gpu or "//" in gpu or "," in gpu:
            raise ValueError(f"not a single CUDA device: {gpu!r}")
    return [f"popen//env:{_CUDA_VISIBLE_DEVICES}={gpus[k % len(gpus)]}" for k in range(workers)]


def _uses_gpus(config: pytest.Config) -> bool:
    return config.getoption("device", "auto") != "cpu"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_pytest_options(parser.getgroup("kcheck", "kernel checker"), options.declared_by(__name__))


def _check_workers_per_gpu(config: pytest.Config) -> int | None:
    per_gpu: int | None = config.getoption("workers_per_gpu")
    if per_gpu is not None and per_gpu < 1:
        raise pytest.UsageError(f"--workers-per-gpu must be >= 1, got {per_gpu}")
    return per_gpu


# optionalhook: the hook exists only while xdist is loaded (not under -p no:xdist).
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` on a GPU host: ``--workers-per-gpu`` workers per visible GPU (by default
    :func:`default_workers_per_gpu`); elsewhere None, which leaves the choice to xdist (one per CPU
    core, or PYTEST_XDIST_AUTO_NUM_WORKERS)."""
    per_gpu = _check_workers_per_gpu(config)
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or not _uses_gpus(config):
        return None
    gpus = visible_gpus()
    if not gpus:
        return None
    return (per_gpu or default_workers_per_gpu(len(gpus))) * len(gpus)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _check_workers_per_gpu(config)
    if hasattr(config, "workerinput") or not _uses_gpus(config):
        return
    tx = config.getoption("tx", None)
    # Only the plain specs that -n N / -n auto make; anything the user spelled out is theirs.
    if not tx or any(spec != "popen" for spec in tx):
        return
    gpus = visible_gpus()
    if gpus:
        config.option.tx = worker_specs(len(tx), gpus)
