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
