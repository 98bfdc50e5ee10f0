"""A group's bound kernel is its own: Helion keeps one BoundKernel per specialization key, which
for a ``static_shapes=False`` kernel ignores sizes, so the group a process met first decided
later groups' default configs (session 13: ``ex_moe_matmul_ogs[13x20x24x5-fp32-default]`` ran
block sizes [8, 16, 16] in one H100 run and [4, 16, 16] in the next). checker/prepare.py binds
every group afresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# In a fresh process: the sm_90 target (as a CPU run sees it) changes Helion's process state.
_PROBE = """
import json
from pathlib import Path
from checker import codegen, loader, prepare, targets
from checker.spec import DEFAULT

targets.use_target_on_cpu(targets.get_target("sm_90"))
(spec,) = loader.specs_in([Path("tests/helion_examples/corpus/moe_matmul_ogs.py")])

def default(shape):
    prepare.for_group.cache_clear()
    prep = prepare.for_group(spec, shape, "fp32", 83, "cpu", True)
    return codegen.resolve_config(prep.bound, DEFAULT)["block_sizes"]

small, large = (13, 20, 24, 5), (24, 32, 16, 4)
first = {"small": default(small), "large": default(large)}
second = {"large": default(large), "small": default(small)}
print(json.dumps([first, second]))
"""


def test_the_default_config_of_a_group_does_not_depend_on_the_groups_before_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = json.loads(proc.stdout.strip().splitlines()[-1])
    # The token tile follows each group's own max_T_per_expert (4 and 8 at seed 83).
    assert first == second == {"small": [4, 16, 16], "large": [8, 16, 16]}, (first, second)


_LAYOUT_PROBE = """
import gc, json, weakref
from pathlib import Path
import torch
from checker import codegen, loader, prepare, targets
from checker.spec import DEFAULT

device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cpu":
    targets.use_target_on_cpu(targets.get_target("sm_90"))
(spec,) = [s for s in loader.specs_in([Path("kernels/softmax.py")]) if s.name == "softmax"]
made = []
real_on_device = prepare.on_device
def tracked(layout, where):
    out = real_on_device(layout, where)
    made.extend(weakref.ref(t) for t in out if isinstance(t, torch.Tensor))
    return out
prepare.on_device = tracked
prep = prepare.for_group(spec, (4096, 2048), "fp32", 0, device, False)
kept = [str(v.device) for v in prep.inputs if isinstance(v, torch.Tensor)]
code = codegen.generate(prep.bound, codegen.resolve_config(prep.bound, DEFAULT))
gc.collect()
print(json.dumps({
    "kept": kept,
    "after_bind": [str(v.device) for v in prep.inputs if isinstance(v, torch.Tensor)],
    "bind_tensors": len(made),
    "alive": sum(r() is not None for r in made),
    "code": "def " in code,
    "allocated": torch.cuda.memory_allocated() if device == "cuda" else 0,
}))
"""


def test_layout_inputs_hold_no_memory_and_a_bind_keeps_none() -> None:
    """Goldens and codegen-only cases bind to inputs by layout: kept on the meta device, put on
    the case's device only for the bind. On an H100, 16 xdist workers each kept 8 groups of
    such stand-ins on the GPU (and a CUDA context each) and 5 of 861 warm golden checks ran out
    of GPU memory (2026-12-07); on a GPU this also checks nothing stays allocated."""
    proc = subprocess.run(
        [sys.executable, "-c", _LAYOUT_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["kept"] == ["meta"] and got["after_bind"] == ["meta"], got
    assert got["bind_tensors"] == 1 and got["alive"] == 0, got  # made for the bind, then gone
    assert got["code"] and got["allocated"] == 0, got
