"""The resolved run options of one process: what a case runs with, and how far it compiles.

:class:`RunOptions` is made from a run's option values (checker/options.py) by
:meth:`RunOptions.of`, once per pytest process, and travels with every case job to the case
worker. It sits on the bottom floor so that every stage (checker/prepare.py,
checker/compile_step.py) and every caller (the plugin, ``kcheck minimize``, ``kcheck repro``) can
import it; it imports only ``checker.options`` and ``checker.targets``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from checker.choices import CompilePolicy, Isolate
from checker.options import DEFAULT_COMPILE_TIMEOUT_S, Values
from checker.targets import Target


class Level(enum.StrEnum):
    """How far a cross-compile goes (``--compile``; checker/compile.py compiles to it)."""

    #: frontend, TTIR, TTGIR and shared-memory allocation; no LLVM, no ptxas.
    CHECK = "check"
    #: all the way to a cubin, with ptxas -v for registers and spills.
    FULL = "full"


@dataclass(frozen=True)
class RunOptions:
    """How cases run in this process.

    Attributes:
        sweep_seed: seeds sampled configs and inputs.
        target: the GPU target (the local GPU when ``native``).
        native: run on the local CUDA device; False runs on CPU (interpreter / codegen only).
        n_configs: how many configs are sampled per (kernel, shape, dtype).
        compile: ``--compile`` policy (see :meth:`compile_level`); a string is taken as its
            :class:`~checker.choices.CompilePolicy`.
        compile_timeout: seconds one compile may take in its worker before it is killed.
        cache_dir: directory of the compile and stage caches (checker.cache), None for none (--no-cache).
        run_timeout: seconds a case may run in its supervised worker (--run-timeout), None when
            nothing supervises it; a cached interpreter verdict that took longer is not used.
    """

    sweep_seed: int
    target: Target
    native: bool
    n_configs: int
    compile: CompilePolicy = CompilePolicy.AUTO
    compile_timeout: float = DEFAULT_COMPILE_TIMEOUT_S
    cache_dir: str | None = None
    run_timeout: float | None = None

    def __post_init__(self) -> None:
        # ValueError for a policy outside the closed set.
        object.__setattr__(self, "compile", CompilePolicy(self.compile))

    @classmethod
    def of(cls, values: Values, target: Target, *, native: bool, cache_dir: str | None) -> RunOptions:
        """The options cases run with, from a run's option ``values`` (checker/options.py) and
        what the caller resolved from them and the machine: the ``target`` profile, whether it
        is the local GPU (``native``), and the compile cache's absolute directory (None: no
        cache). The one place a RunOptions is made outside tests."""
        return cls(
            sweep_seed=values["sweep_seed"],
            target=target,
            native=native,
            n_configs=values["configs"],
            compile=values["compile"],
            compile_timeout=values["compile_timeout"],
            cache_dir=cache_dir,
            run_timeout=None if values["isolate"] is Isolate.OFF else values["run_timeout"],
        )

    @property
    def device(self) -> str:
        return "cuda" if self.native else "cpu"

    def compile_level(self, executes: bool) -> Level | None:
        """How far to compile a case in a supervised worker before anything else, or None.

        ``auto`` compiles every case fully on a GPU (the worker fills Triton's cache, so the
        native launch that follows loads the cubin instead of compiling in this process, and a
        hung or crashing compile costs a worker, not the run); on a CPU it compiles every case
        to level ``check`` (no LLVM, no ptxas, which keeps the main job within minutes on 2
        cores): full shapes because the CPU cannot run them, small shapes too, before the
        interpreter runs them, because the interpreter runs code the target's compiler rejects
        (an MLIR pass crash on causal_attention's ``wide_q`` config at 16x16 fp16). ``check`` and
        ``full`` apply to every case; ``off`` to none. ``full-shapes`` compiles the cases that do
        not run (``executes`` False: on CPU the full shapes) to level ``full``, LLVM and ptxas
        included, so that a CPU run finds the ptxas crashes and compile timeouts (judged in CPU
        seconds against the GPU host's, checker.hostspeed) a GPU run of those configs would, and
        the rest to ``check``; on a GPU it is ``full``. It costs minutes of CPU per hundred
        full-shape cases on a cold cache (docs/benchmarks.md#compile-level-full-on-cpu), so
        ``auto`` stays ``check`` on CPU and a nightly CI job runs ``full-shapes``
        (docs/ci.md).
        """
        if self.compile is CompilePolicy.OFF:
            return None
        if self.compile is CompilePolicy.AUTO:
            return Level.FULL if self.native else Level.CHECK
        if self.compile is CompilePolicy.FULL_SHAPES:
            return Level.FULL if self.native or not executes else Level.CHECK
        return Level(self.compile.value)
