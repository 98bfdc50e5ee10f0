"""One golden case end to end: generate, normalize, compare or update, expectations -> Record.

Outcomes (docs/goldens.md):

* ``passed``: the code equals its golden file (check mode), or the file was created, updated or
  left unchanged (``--update-golden``; ``fields.golden_action`` says which), and every FileCheck
  expectation matched;
* ``golden-missing``: no golden file for a tracked case;
* ``golden-stale``: the golden file was made with another helion/triton/torch release; both
  versions are in ``fields``, and whether the code changed too;
* ``golden-diff``: the code differs (``fields``: capped unified ``diff``, ``summary``, ``counts``),
  the golden file is unreadable, or a FileCheck expectation failed (``fields.check`` is
  ``filecheck``);

every outcome that ``--update-golden`` fixes (missing, stale, differing or unreadable files)
carries ``fields.accept``: the command that accepts it, which the group views show
(checker/results/commands.py);
* any codegen failure category (``helion-internal-error``, ``invalid-config``...) when Helion
  cannot generate the code at all.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker import diagnostics, toolchain
from checker import expect
from checker.golden import cases, paths, store, summary
from checker.golden.normalize import normalize
from checker.categories import Category
from checker.model import Mode, Record, new_record
from checker.spec import KernelSpec

if TYPE_CHECKING:
    from checker.run_options import RunOptions

#: Record ``mode`` of every golden record.
MODE = Mode.GOLDEN


@dataclass(frozen=True)
class GoldenContext:
    """How golden items run in this session.

    Attributes:
        root: the golden directory (``golden/`` under the rootdir by default).
        target: target name, e.g. ``sm_90``.
        native: code is generated for the local GPU (False: on CPU, Helion seeing ``target``).
        update: ``--update-golden``: write files instead of failing on differences.
        display_base: paths in messages are shown relative to this directory when under it.
        options: the run's options (target profile, cache directory) for code generation.
    """

    root: Path
    target: str
    native: bool
    update: bool
    display_base: Path
    options: RunOptions

    @property
    def key(self) -> str:
        """The target key: the directory under ``root`` (``cpu-sm_90``, ``sm_90``)."""
        return cases.target_key(self.target, self.native)

    @property
    def device(self) -> str:
        return "cuda" if self.native else "cpu"

    def show(self, path: Path) -> str:
        """``path`` relative to ``display_base`` when it lies under it."""
        try:
            return str(path.relative_to(self.display_base.resolve()))
        except ValueError:
            return str(path)


def _running_toolchain() -> dict[str, str]:
    versions = toolchain.versions()
    return {k: versions.get(k, "-") for k in store.TOOLCHAIN_KEYS}


def check_golden(spec: KernelSpec, gcase: cases.GoldenCase, ctx: GoldenContext, accept: str) -> Record:
    """Check (or with ``ctx.update``, write) the golden file of ``gcase`` and run its
    expectations; never raises for a kernel's or a golden file's fault.

    ``accept`` is the command that re-blesses this case, quoted in failure messages.
    """
    started = time.perf_counter()
    stages: dict[str, float] = {}
    case = gcase.case
    config: Any = None
    fields: dict[str, Any] = {}

    def record(category: Category, message: str = "", signature: str | None = None) -> Record:
        return new_record(
            case,
            category,
            MODE,
            ctx.target,
            helion_config=config,
            duration_s=round(time.perf_counter() - started, 4),
            stages=stages,
            message=diagnostics.sanitize(message),
            signature=signature,
            fields=fields,
        )

    def failed(category: Category, message: str) -> Record:
        sig = diagnostics.signature(category, f"{case.kernel} {case.config} {fields.get('check', '')}")
        return record(category, message, sig)

    t0 = time.perf_counter()
    try:
        code, config, cached = cases.generate(spec, case, ctx.options)
        if cached:
            fields["codegen_cached"] = True
    except Exception as exc:
        stages["codegen"] = round(time.perf_counter() - t0, 4)
        d = diagnostics.classify(exc)
        fields.update(d.fields)
        return record(d.category, d.message, d.signature)
    stages["codegen"] = round(time.perf_counter() - t0, 4)
    body = normalize(code)

    outcome: tuple[Category, str] | None = None
    if gcase.tracked:
        t0 = time.perf_counter()
        try:
            outcome = _compare_or_update(case.name, body, repr(config), ctx, accept, fields)
            if outcome[0] is not Category.PASSED:
                # A missing, stale or differing file: --update-golden fixes it, so the group
                # views show this command (checker/results/commands.py).
                fields["accept"] = accept
        except (OSError, ValueError) as exc:
            # A golden path that is a directory, or a symlink out of the golden directory
            # (paths.GoldenPathError): the item raised and left no record, so the run failed
            # with 0 failures in junit and a green `kcheck report`.
            outcome = Category.GOLDEN_DIFF, f"unreadable golden file for {case.name}: {exc}"
        stages["golden"] = round(time.perf_counter() - t0, 4)
    if gcase.checks is not None:
        t0 = time.perf_counter()
        problem = expect.run_checks(gcase.checks, body, f"{spec.name}.expectations[{case.config}]", case.name)
        stages["filecheck"] = round(time.perf_counter() - t0, 4)
        if problem is not None:
            fields["check"] = "filecheck"
            fields["filecheck"] = problem
            message = (
                f"FileCheck expectation for config {case.config!r} of {spec.name} failed (declared in "
                f"the spec's expectations; --update-golden does not change it):\n{problem}"
            )
            if outcome is not None and outcome[0] is not Category.PASSED:
                message = f"{outcome[1]}\n\n{message}"
            return failed(Category.GOLDEN_DIFF, message)
    if outcome is None or outcome[0] is Category.PASSED:
        return record(Category.PASSED, outcome[1] if outcome else "")
    return failed(*outcome)


def _compare_or_update(
    name: str, body: str, config_repr: str, ctx: GoldenContext, accept: str, fields: dict[str, Any]
) -> tuple[Category, str]:
    kernel, param = name.split("[", 1)
    path = paths.golden_path(ctx.root, ctx.key, kernel, param.removesuffix("]"))
    shown = ctx.show(path)
    fields["golden_path"] = shown
    header = store.GoldenHeader(name, ctx.key, _running_toolchain(), config_repr)
    expected = store.render(header, body)
    how = f"To accept the new code, commit your work first, then re-run with --update-golden: {accept}"
    try:
        stored = store.read_text(path)
    except store.GoldenFormatError as exc:
        stored, unreadable = None, str(exc)
    else:
        unreadable = ""
    if ctx.update:
        if stored == expected:
            fields["golden_action"] = "unchanged"
        else:
            fields["golden_action"] = "created" if stored is None and not unreadable else "updated"
            store.write(path, expected)
        return Category.PASSED, f"golden {fields['golden_action']}: {shown}"
    if unreadable:
        return Category.GOLDEN_DIFF, f"unreadable golden file: {unreadable}\n{how}"
    if stored is None:
        return Category.GOLDEN_MISSING, f"no golden file {shown} for {name}\n{how}"
    try:
        old_header, old_body = store.parse(stored, shown)
    except store.GoldenFormatError as exc:
        return Category.GOLDEN_DIFF, f"unreadable golden file: {exc}\n{how}"
    old_body = normalize(old_body)
    code_changed = old_body != body
    if code_changed:
        _describe_diff(old_body, body, shown, fields)
    stale = store.stale_tools(old_header.toolchain, header.toolchain)
    if stale:
        fields["golden_toolchain"] = {k: old for k, (old, _) in stale.items()}
        fields["running_toolchain"] = {k: new for k, (_, new) in stale.items()}
        fields["code_changed"] = code_changed
        versions = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in stale.items())
        change = f"the code changed too ({fields['summary']})" if code_changed else "the code is the same"
        return (
            Category.GOLDEN_STALE,
            f"golden {shown} was made with another toolchain ({versions}); {change}\n{how}",
        )
    same_header = dataclasses.replace(old_header, toolchain=header.toolchain) == header
    if not code_changed and same_header:
        return Category.PASSED, ""
    if not code_changed:
        before, after = (
            old_header.render(),
            dataclasses.replace(header, toolchain=old_header.toolchain).render(),
        )
        _describe_diff(before, after, shown, fields)
        return Category.GOLDEN_DIFF, f"golden {shown}: header differs (case, target or config)\n{how}"
    return Category.GOLDEN_DIFF, f"generated code differs from {shown}: {fields['summary']}\n{how}"


def _describe_diff(before: str, after: str, shown: str, fields: dict[str, Any]) -> None:
    changes = summary.changed_counts(before, after)
    fields["summary"] = summary.summary_line(changes)
    fields["counts"] = {k: [a, b] for k, (a, b) in changes.items()}
    fields["diff"], fields["diff_lines"] = summary.unified_diff(
        before, after, f"{shown} (golden)", "generated"
    )
