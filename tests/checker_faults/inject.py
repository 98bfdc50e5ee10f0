"""Kernels whose module injects a fault into the checker's own code (tests/test_checker_error.py).

The checker imports a kernel module in every process that runs its cases (the pytest process,
case workers), so the patches below reach the whole run path. Each patch raises only for the
``victim`` spec and calls the checker's real code for every other case, so one test run shows
both: the victim's cases are ``checker-error`` records naming the checker frame, and the
healthy spec beside it still passes.

``KCHECK_TEST_INJECT`` picks the place:

- ``compare``: checker.run_step's comparison step, in the process that checks the case (a case
  worker under ``--isolate on``); the error is raised inside checker/model.py.
- ``supervisor``: checker.exec_worker.CaseRunner.check, the supervising side in the pytest
  process; the error is raised inside checker/model.py too.
- ``globals``: nothing patched; the victim kernel reaches a module without ``__file__``
  (``sys``, built into every Python) and a module object made without one, as attention
  kernels reached ``math`` on a distribution Python (issue 22).
"""

from __future__ import annotations

import os
import sys
import types

import helion
import helion.language as hl
import torch

from checker import exec_worker, model, run_step
from checker.spec import KernelSpec

WHERE = os.environ.get("KCHECK_TEST_INJECT", "")
#: A module with no __file__ at all, like ``math`` in Debian's and Ubuntu's python3.
NO_FILE = types.ModuleType("kcheck_test_no_file")
NO_FILE.SCALE = 2.0  # type: ignore[attr-defined]


def _bug() -> None:
    # A real checker function called wrongly: the TypeError is raised in checker/model.py.
    model.comparison_from_dict({"no_such_field": 1})


if WHERE == "compare":
    _compare = run_step.compare_outputs

    def _patched_compare(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        if spec.name == "victim":
            _bug()
        return _compare(spec, *args, **kwargs)

    run_step.compare_outputs = _patched_compare
elif WHERE == "supervisor":
    _check = exec_worker.CaseRunner.check

    def _patched_check(self, kernel_file, spec_name, case, config=None):  # type: ignore[no-untyped-def]
        if spec_name == "victim":
            _bug()
        return _check(self, kernel_file, spec_name, case, config)

    exec_worker.CaseRunner.check = _patched_check  # type: ignore[method-assign]


@helion.kernel(static_shapes=True)
def add_one(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] + 1.0
    return out


@helion.kernel(static_shapes=True)
def scaled(x: torch.Tensor) -> torch.Tensor:
    # Host code that reads globals of modules without a file: sys (built in everywhere) and
    # NO_FILE. Both are evaluated at trace time, as Helion does for host-side constants.
    out = torch.empty_like(x)
    scale = NO_FILE.SCALE * (1.0 if sys.maxsize > 0 else 2.0)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] * scale
    return out


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor]:
    return (torch.randn(*shape, generator=gen).to(dtype),)


_COMMON = {
    "make_inputs": _inputs,
    "shapes": [(1 << 16,)],
    "small_shapes": [(256,)],
    "dtypes": [torch.float32],
    "configs": {"small": helion.Config(block_sizes=[64], num_warps=2)},
}

SPECS = [
    KernelSpec(
        name="victim",
        kernel=scaled if WHERE == "globals" else add_one,
        reference=(lambda x: x * 2.0) if WHERE == "globals" else (lambda x: x + 1.0),
        **_COMMON,  # type: ignore[arg-type]
    ),
    KernelSpec(name="healthy", kernel=add_one, reference=lambda x: x + 1.0, **_COMMON),  # type: ignore[arg-type]
]
