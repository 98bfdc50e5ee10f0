"""A CPU run for sm_90 samples the configs an H100 samples: same seed, same ``cfgK``.

Helion builds its config space from questions about the local GPU (TMA tensor descriptors,
``maxnreg``, register file, SM count); ``checker.targets.use_target_on_cpu`` answers them for
the target. tests/data/h100-sampled-configs.json holds configs an H100 sampled in the session-3
GPU run (docs/gpu-runs.md). Before the feature queries were answered, 3 of 186 sampled
full-shape configs of that run matched a CPU run; after, 186 of 186.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

from checker import targets
from checker.loader import specs_in
from checker.spec import DTYPES_BY_NAME
from checker.sweep import derived_seed, sample_configs

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "tests" / "data" / "h100-sampled-configs.json").read_text())

pytestmark = [
    pytest.mark.skipif(torch.cuda.is_available(), reason="compares a CPU-only run with an H100"),
    pytest.mark.skipif(
        version("helion") != RECORDED["toolchain"]["helion"],
        reason=f"configs recorded with helion {RECORDED['toolchain']['helion']}",
    ),
]


def test_cpu_samples_the_configs_an_h100_sampled() -> None:
    targets.use_target_on_cpu(targets.get_target("sm_90"))
    specs = {spec.name: spec for spec in specs_in([ROOT / "kernels"])}
    groups: dict[tuple[str, tuple[int, ...], str], dict[int, str]] = {}
    for entry in RECORDED["configs"]:
        key = (entry["kernel"], tuple(entry["shape"]), entry["dtype"])
        groups.setdefault(key, {})[entry["index"]] = entry["config"]
    mismatches = []
    for (kernel, shape, dtype), wanted in groups.items():
        spec = specs[kernel]
        inputs = spec.make_inputs(shape, DTYPES_BY_NAME[dtype], torch.Generator().manual_seed(0))
        bound = spec.kernel.bind(inputs)
        sampled = sample_configs(bound.config_spec, max(wanted) + 1, derived_seed(0, kernel, shape, dtype))
        for index, config in wanted.items():
            got = repr(sampled[index])  # as records write config_repr
            if got != config:
                mismatches.append(f"{kernel}{list(shape)} {dtype} cfg{index}:\n  cpu {got}\n  h100 {config}")
    assert len(RECORDED["configs"]) == 38
    assert not mismatches, "\n".join(mismatches)


def test_tma_and_maxnreg_follow_the_target() -> None:
    """sm_90 offers TMA tensor descriptors and maxnreg; sm_80 has no TMA."""
    import helion._compat as compat

    targets.use_target_on_cpu(targets.get_target("sm_90"))
    assert compat.supports_tensor_descriptor() and compat.supports_maxnreg()
    targets.use_target_on_cpu(targets.get_target("sm_80"))
    try:
        assert not compat.supports_tensor_descriptor() and compat.supports_maxnreg()
    finally:
        targets.use_target_on_cpu(targets.get_target("sm_90"))
