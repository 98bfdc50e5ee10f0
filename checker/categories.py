"""Failure categories and what each means to every view and stage: one table.

The category set is closed (see docs/records.md); a new category is added here, deliberately,
with its row of :data:`TRAITS` (what it means to every view and stage) and the classifier that
produces it (docs/architecture.md, "Adding a failure category"). Records (checker/model.py)
carry exactly one category.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


class Category(enum.StrEnum):
    """Outcome of one case. ``PASSED`` is the only success; every other value is a finding."""

    PASSED = "passed"
    NUMERICAL_MISMATCH = "numerical-mismatch"
    NONFINITE_MISMATCH = "nonfinite-mismatch"
    SHAPE_MISMATCH = "shape-mismatch"
    DTYPE_MISMATCH = "dtype-mismatch"
    NUMEL_OVERFLOW = "numel-overflow"
    COMPILE_TIMEOUT = "compile-timeout"
    OUT_OF_RESOURCES = "out-of-resources"
    COMPILER_CRASH = "compiler-crash"
    HELION_INTERNAL_ERROR = "helion-internal-error"
    INVALID_CONFIG = "invalid-config"
    CUDA_OOM = "cuda-oom"
    ILLEGAL_MEMORY_ACCESS = "illegal-memory-access"
    DEVICE_ASSERT = "device-assert"
    LAUNCH_FAILURE = "launch-failure"
    RUNTIME_ERROR = "runtime-error"
    RUN_TIMEOUT = "run-timeout"
    WORKER_DIED = "worker-died"
    REFERENCE_ERROR = "reference-error"
    #: The kernel changed a tensor argument its spec does not list in ``mutates``.
    INPUT_MUTATED = "input-mutated"
    #: One store wrote different values to one address from several lanes (found by the
    #: interpreter, checker/interpreter.py StoreRace): the result is the GPU's luck.
    STORE_RACE = "store-race"
    INTERPRETER_UNSUPPORTED = "interpreter-unsupported"
    GOLDEN_DIFF = "golden-diff"
    GOLDEN_MISSING = "golden-missing"
    GOLDEN_STALE = "golden-stale"
    NOT_RUN = "not-run"
    #: A kernel module that could not be imported or declares an invalid spec.
    COLLECTION_ERROR = "collection-error"
    #: The checker's own code raised (a kcheck bug, not the kernel's): decided by the frames of
    #: the traceback (checker/blame.py, docs/records.md#checker-error). Fails the run with its
    #: own exit status.
    CHECKER_ERROR = "checker-error"

    @property
    def traits(self) -> Traits:
        """This category's row of :data:`TRAITS`: everything the checker's views and stages
        need to know about it."""
        return TRAITS[self]

    @property
    def is_failure(self) -> bool:
        """True for categories that fail the case (everything but passed and the skips)."""
        return self.traits.kind is Kind.FAILURE

    @property
    def shown_first(self) -> bool:
        """True for ``checker-error``: views list kcheck's own bugs before any kernel's failure,
        whatever the group sizes."""
        return self.traits.owner is Owner.CHECKER

    @property
    def is_skip(self) -> bool:
        """True for categories that mean "this case was not checked", not "it is broken"."""
        return self.traits.kind is Kind.SKIP

    @property
    def is_mismatch(self) -> bool:
        """True for the categories a comparison of the kernel's results with the reference
        decides: numerical, non-finite, shape and dtype mismatches, and an input the kernel
        wrote. Their messages describe values; their signatures hold none
        (checker.diagnostics.signature), and triage groups them per kernel."""
        traits = self.traits
        return traits.compared and traits.kind is Kind.FAILURE


#: Exit status of ``kcheck run`` and ``kcheck report`` when any record is a ``checker-error``: a
#: kcheck bug decides the run's status before any kernel's failure does (pytest's own
#: ``ExitCode.INTERNAL_ERROR`` has the same value and meaning).
EXIT_CHECKER_ERROR = 3


class Kind(enum.StrEnum):
    """What a category says about a case: it passed, was not checked, or failed."""

    PASS = "pass"
    #: Not checked here, not a verdict on the kernel: JUnit ``skipped``, never fails a run
    #: (unless the record is a lost case, :attr:`Record.failed`).
    SKIP = "skip"
    FAILURE = "failure"


class Owner(enum.StrEnum):
    """Whose state a category describes: the kernel's verdict, or something around it."""

    #: The kernel: its code, its config, compiling and running it (also a crash or hang of the
    #: worker that ran it).
    KERNEL = "kernel"
    #: The kernel's spec: its reference or its inputs (failures group per kernel).
    SPEC = "spec"
    #: This machine or the Triton interpreter cannot check the case (the skips).
    MACHINE = "machine"
    #: The kernel file could not be collected.
    MODULE = "module"
    #: An expect file (docs/goldens.md): baseline status ``golden``, the comment shows the diff.
    GOLDEN = "golden"
    #: kcheck's own bug: shown before every other group (terminal, triage, its own section of
    #: the PR comment), never ``pre-existing``, and the run exits :data:`EXIT_CHECKER_ERROR`.
    CHECKER = "checker"


class JUnitElement(enum.StrEnum):
    """The element of a case's JUnit testcase (checker/report/junit.py)."""

    #: No result element: the testcase passed.
    NONE = "none"
    SKIPPED = "skipped"
    FAILURE = "failure"
    #: ``<error>``: the case could not even be set up (a module that was not collected).
    ERROR = "error"


class Headline(enum.StrEnum):
    """The line of a record's message that titles its failure group (checker/results/group.py)."""

    #: The first line that is not only a source position (``CompilationError: at 3:14:``).
    FIRST_LINE = "first-line"
    #: The innermost exception line of the chain (an error names its cause last).
    INNERMOST_EXCEPTION = "innermost-exception"
    #: The ``numel (N) exceeds triton maximum tensor numel (M)`` line.
    NUMEL = "numel"
    #: The ``out of resource: ...`` line.
    OUT_OF_RESOURCE = "out-of-resource"
    #: ptxas's first ``fatal`` line, else the failing MLIR pass, else the innermost exception.
    COMPILER_CRASH = "compiler-crash"


class GroupScope(enum.StrEnum):
    """What a failure group's key adds to category and signature (docs/triage.md)."""

    #: Nothing: the signature holds no kernel name, so one compiler bug across kernels is one
    #: group.
    SIGNATURE = "signature"
    #: The kernel: the signature is the normalized comparison message, the same for every
    #: kernel (or the spec, which every kernel has its own of, is at fault).
    KERNEL = "kernel"
    #: Triton's limit (``fields.limit``): the signature lost its numbers.
    LIMIT = "limit"


class Replay(enum.StrEnum):
    """The stage a standalone reproducer replays (checker/triage/repro.py, docs/repro.md)."""

    #: Cross-compile the generated Triton for the record's target (no GPU needed).
    COMPILE = "compile"
    #: Launch the host function (GPU, or the interpreter) and compare with the reference.
    RUN = "run"


@dataclass(frozen=True)
class Traits:
    """One row of :data:`TRAITS`: what a category means to every part of the checker."""

    kind: Kind
    owner: Owner
    junit: JUnitElement
    #: What to do next about a failure group of this category, one line of plain text: whose
    #: fault it usually is and which command narrows it (``kcheck minimize CASE``, ``kcheck
    #: repro CASE``; CASE stands for a case of the group). Shown by every group view: the
    #: terminal summary, ``kcheck triage`` and the PR comment (docs/triage.md).
    next_step: str
    headline: Headline = Headline.FIRST_LINE
    scope: GroupScope = GroupScope.SIGNATURE
    #: The stage ``kcheck repro`` replays; None: nothing the generated code can replay.
    replay: Replay | None = None
    #: The case ran to its comparison with the reference (a verdict the stage cache may keep,
    #: and that a reproducer without a reference cannot check).
    compared: bool = False
    #: A deterministic compile failure: the compile cache may keep it.
    compile_cacheable: bool = False
    #: The CUDA context of the process that saw it is unusable: its case worker is recycled.
    sticky: bool = False
    #: The case's worker made no record (it died or outran ``--run-timeout``); its supervisor
    #: did. The case never reached its comparison; it is never retried alone for memory.
    supervisor_made: bool = False
    #: Observed from outside a process (a signal, an exit, a hang): a reproducer replays it in
    #: a child process, with the record's timeout.
    observed_outside: bool = False


def _failure(next_step: str, **kw: Any) -> Traits:
    """A row of a kernel's failure (a JUnit ``failure``)."""
    return Traits(Kind.FAILURE, Owner.KERNEL, JUnitElement.FAILURE, next_step, **kw)


def _mismatch(next_step: str = "") -> Traits:
    """A row of a completed comparison that failed."""
    return _failure(
        next_step
        or "usually the kernel's code (a compiler bug if only some configs fail): kcheck minimize "
        "CASE names the knobs, kcheck repro CASE writes a standalone file",
        scope=GroupScope.KERNEL,
        replay=Replay.RUN,
        compared=True,
    )


def _skip(next_step: str, **kw: Any) -> Traits:
    """A row of a case this machine cannot check."""
    return Traits(Kind.SKIP, Owner.MACHINE, JUnitElement.SKIPPED, next_step, **kw)


#: The next step of a golden change that --update-golden accepts.
_ACCEPT = "commit your work, then accept with the accept command shown (--update-golden) and review git diff"


#: Every category's properties: the one place a category is described (docs/architecture.md,
#: "Adding a failure category"). The sets the checker uses are derived from it.
TRAITS: Mapping[Category, Traits] = MappingProxyType(
    {
        Category.PASSED: Traits(
            Kind.PASS, Owner.KERNEL, JUnitElement.NONE, "nothing to do", replay=Replay.RUN, compared=True
        ),
        Category.NUMERICAL_MISMATCH: _mismatch(),
        Category.NONFINITE_MISMATCH: _mismatch(),
        Category.SHAPE_MISMATCH: _mismatch(
            "the kernel's code or its spec's output shapes: kcheck repro CASE writes a standalone file"
        ),
        Category.DTYPE_MISMATCH: _mismatch(
            "the kernel's code or its spec's output dtypes: kcheck repro CASE writes a standalone file"
        ),
        Category.NUMEL_OVERFLOW: _failure(
            "the config: a block over Triton's tensor size limit; kcheck minimize CASE names the "
            "knobs (narrow the spec's config space, or report a sampler bug)",
            headline=Headline.NUMEL,
            scope=GroupScope.LIMIT,
            replay=Replay.COMPILE,
            compile_cacheable=True,
        ),
        Category.COMPILE_TIMEOUT: _failure(
            "the compiler on this config (often a huge unroll): kcheck minimize CASE names the knobs, "
            "kcheck repro CASE replays the compile alone",
            replay=Replay.COMPILE,
            observed_outside=True,
        ),
        Category.OUT_OF_RESOURCES: _failure(
            "the config: more shared memory or registers than the target has; kcheck minimize CASE "
            "names the knobs",
            headline=Headline.OUT_OF_RESOURCE,
            replay=Replay.COMPILE,
            compile_cacheable=True,
        ),
        Category.COMPILER_CRASH: _failure(
            "the compiler (Triton, ptxas) on this config: kcheck minimize CASE names the knobs, "
            "kcheck repro CASE writes a file to report upstream",
            headline=Headline.COMPILER_CRASH,
            replay=Replay.COMPILE,
            compile_cacheable=True,
        ),
        Category.HELION_INTERNAL_ERROR: _failure(
            "Helion's code generation (or a construct it does not support): re-run the case with "
            "the repro command and report it to Helion",
            headline=Headline.INNERMOST_EXCEPTION,
        ),
        Category.INVALID_CONFIG: _failure(
            "the config: Helion rejects it; check the spec's configs and config space (the repro "
            "command re-runs the case)"
        ),
        Category.CUDA_OOM: _failure(
            "the shape or this GPU: out of device memory; re-run the case alone with the repro "
            "command, or use smaller shapes",
            replay=Replay.RUN,
        ),
        Category.ILLEGAL_MEMORY_ACCESS: _failure(
            "usually the kernel (an index or mask out of bounds), else a compiler bug on this "
            "config: kcheck minimize CASE, kcheck repro CASE",
            replay=Replay.RUN,
            sticky=True,
        ),
        Category.STORE_RACE: _failure(
            "the kernel: lanes of one store write different values to one address (often masked-off "
            "lanes redirected to a valid index); kcheck repro CASE",
            replay=Replay.RUN,
        ),
        Category.DEVICE_ASSERT: _failure(
            "the kernel: a device-side assert fired; kcheck repro CASE writes a standalone file",
            replay=Replay.RUN,
            sticky=True,
        ),
        Category.LAUNCH_FAILURE: _failure(
            "the config or the compiler: the launch failed; kcheck minimize CASE names the knobs, "
            "kcheck repro CASE",
            replay=Replay.RUN,
            sticky=True,
        ),
        Category.RUNTIME_ERROR: _failure(
            "the kernel or its spec raised while running: the message has the traceback; kcheck "
            "repro CASE writes a standalone file",
            headline=Headline.INNERMOST_EXCEPTION,
            replay=Replay.RUN,
        ),
        Category.RUN_TIMEOUT: _failure(
            "the kernel (a hang, an endless loop) or a very slow config: kcheck repro CASE replays "
            "it with the timeout, kcheck minimize CASE names the knobs",
            replay=Replay.RUN,
            supervisor_made=True,
            observed_outside=True,
        ),
        Category.WORKER_DIED: _failure(
            "the kernel or the compiler killed its process (a signal): kcheck repro CASE replays it "
            "in a child process",
            replay=Replay.RUN,
            supervisor_made=True,
            observed_outside=True,
        ),
        Category.REFERENCE_ERROR: Traits(
            Kind.FAILURE,
            Owner.SPEC,
            JUnitElement.FAILURE,
            "the spec, not the kernel: its reference raised; the message has the traceback",
            scope=GroupScope.KERNEL,
        ),
        Category.INPUT_MUTATED: _mismatch(
            "the kernel writes an input its spec does not list: fix the kernel, or add the argument "
            "to the spec's mutates"
        ),
        Category.INTERPRETER_UNSUPPORTED: _skip(
            "not checked: the Triton interpreter cannot run it; run on a GPU to check it"
        ),
        Category.GOLDEN_DIFF: Traits(
            Kind.FAILURE,
            Owner.GOLDEN,
            JUnitElement.FAILURE,
            "the generated code changed: a regression, or intended: then " + _ACCEPT,
        ),
        Category.GOLDEN_MISSING: Traits(
            Kind.FAILURE,
            Owner.GOLDEN,
            JUnitElement.FAILURE,
            "a new golden case: create its file with --update-golden (the create command shown), "
            "then commit it",
        ),
        Category.GOLDEN_STALE: Traits(
            Kind.FAILURE,
            Owner.GOLDEN,
            JUnitElement.FAILURE,
            "the toolchain changed since the golden was made: " + _ACCEPT,
        ),
        # A lost case (Record.lost) is a not-run record that fails and has nothing to replay.
        Category.NOT_RUN: _skip(
            "not checked here (no GPU, another shard); a lost case's worker never reported (a crash, "
            "a kill): re-run it alone with kcheck run -k CASE",
            replay=Replay.COMPILE,
        ),
        Category.COLLECTION_ERROR: Traits(
            Kind.FAILURE,
            Owner.MODULE,
            JUnitElement.ERROR,
            "the kernel file: it failed to import or declares an invalid spec (the message names it)",
        ),
        Category.CHECKER_ERROR: Traits(
            Kind.FAILURE,
            Owner.CHECKER,
            JUnitElement.FAILURE,
            "kcheck itself, not the kernel: please report it with the record's message",
        ),
    }
)
if set(TRAITS) != set(Category):  # a new category without its row fails at import, not later
    raise RuntimeError(f"checker.categories.TRAITS lacks {sorted(set(Category) - set(TRAITS))}")


def categories(predicate: Callable[[Traits], bool]) -> frozenset[Category]:
    """The categories whose :data:`TRAITS` row satisfies ``predicate``, e.g.
    ``categories(lambda t: t.compared)``."""
    return frozenset(c for c in Category if predicate(c.traits))


#: The golden checks' failures (docs/goldens.md): baseline status ``golden``.
GOLDEN_CATEGORIES = categories(lambda t: t.owner is Owner.GOLDEN)
