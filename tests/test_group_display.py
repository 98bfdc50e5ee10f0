"""What a failure group shows a person (issue 25, items 4, 5 and 7): kcheck's groups are the last
screen of ``kcheck run``; commands are printed whole on one line (never folded by rich, at 80
columns too); the comment and triage.md show them relative to the repository root; golden
groups show their diff's first lines and the command that accepts (or creates) them; every
group says what to do next.

The runs are real: ``kcheck run`` (checker.cli.main) on the add kernel in a pytester directory.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from conftest import kernel_source

from checker.categories import Category
from checker.cli import main
from checker.model import CaseId as Case
from checker.model import Mode, Record, new_record
from checker.report.terminal import render
from checker.results.commands import DIFF_HEAD_LINES, diff_head, relative_command
from checker.results.group import triage
from checker.results.jsonl import read_records
from checker.triage.render import render_markdown, render_terminal

GOLDEN_INI = "[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n"
#: A command far longer than 80 columns, with tokens that rich would fold mid-word.
ROOT = "/home/runner/work/some-project-with-a-long-name/some-project-with-a-long-name"
LONG_REPRO = shlex.join(
    [
        "/opt/hostedtoolcache/Python/3.12.7/x64/bin/python3.12",
        "-m",
        "pytest",
        f"{ROOT}/kernels/attention_with_a_long_name.py::attention[4x48x1024x64-fp32-cfg0]",
        "--kernels",
        f"{ROOT}/kernels/attention_with_a_long_name.py",
        "--configs",
        "8",
        "--reports-dir",
        "kcheck-repro/attention_4x48x1024x64-fp32-cfg0_",
        "-p",
        "no:xdist",
    ]
)
NODEID = "kernels/attention_with_a_long_name.py::attention[4x48x1024x64-fp32-cfg0]"


def _record(category: Category = Category.COMPILER_CRASH, **fields: object) -> Record:
    return new_record(
        Case("attention", (4, 48, 1024, 64), "fp32", "cfg0"),
        category,
        Mode.COMPILE_ONLY,
        "sm_90",
        message="RuntimeError: PassManager::run failed",
        signature="aaaaaaaaaaaa",
        fields=dict(fields),
        repro=LONG_REPRO,
        nodeid=NODEID,
    )


# --- commands on one line -----------------------------------------------------------------------


def test_a_long_repro_command_is_one_unbroken_line_at_80_columns() -> None:
    rec = _record()
    views = {
        "run summary": render([rec], width=80),
        "triage": render_terminal(triage([("run", [rec])]), width=80),
    }
    for name, text in views.items():
        lines = [line for line in text.splitlines() if "repro: " in line]
        assert len(lines) == 1, name
        assert lines[0].split("repro: ", 1)[1] == LONG_REPRO, name
        assert len(lines[0]) > 80, "longer than the width, and still whole"
        # Nothing of the command leaked onto a line of its own.
        assert sum("no:xdist" in line for line in text.splitlines()) == 1, name


def test_relative_command_is_what_someone_else_pastes_from_the_repository_root() -> None:
    shown = relative_command(LONG_REPRO, NODEID)
    assert shlex.split(shown)[:4] == ["python", "-m", "pytest", NODEID]
    assert "--kernels kernels/attention_with_a_long_name.py" in shown
    assert ROOT not in shown and "hostedtoolcache" not in shown
    # A source tree run: PYTHONPATH entries under the root become relative, others stay.
    env = shlex.join(["env", f"PYTHONPATH={ROOT}:/usr/lib/extra", *shlex.split(LONG_REPRO)])
    assert shlex.split(relative_command(env, NODEID))[1] == "PYTHONPATH=.:/usr/lib/extra"
    # No node id, or a suite outside the rootdir: only the interpreter is replaced.
    assert relative_command(LONG_REPRO, None).split()[0] == "python" and ROOT in relative_command(
        LONG_REPRO, None
    )
    outside = relative_command(LONG_REPRO, "../suite/kernels/a.py::attention[x]")
    assert ROOT in outside and outside.startswith("python ")
    assert relative_command("pytest 'unbalanced", NODEID) == "pytest 'unbalanced"


def test_the_comment_and_triage_md_show_commands_relative_to_the_root(tmp_path: Path) -> None:
    from checker.report import summary
    from checker.results import baseline
    from checker.results.merge import merge, parse_shard

    rec = _record()
    data = (rec.to_json() + "\n").encode()
    comment = summary.render(baseline.classify(merge([parse_shard("results.jsonl", data)])))
    markdown = render_markdown(triage([("run", [rec])]))
    for text in (comment, markdown):
        assert relative_command(LONG_REPRO, NODEID) in text
        assert ROOT not in text.split("- repro", 1)[1].split("```", 2)[1]
        assert f"- next: {Category.COMPILER_CRASH.traits.next_step}" in text


# --- golden groups --------------------------------------------------------------------------------


def test_diff_head_is_the_first_lines_and_a_count() -> None:
    diff = "\n".join(f"line {i}" for i in range(30))
    head = diff_head(_record(Category.GOLDEN_DIFF, diff=diff))
    assert head[:DIFF_HEAD_LINES] == [f"line {i}" for i in range(DIFF_HEAD_LINES)]
    assert head[-1] == f"... {30 - DIFF_HEAD_LINES} more lines"
    assert diff_head(_record()) == []


def _kcheck_run(p: pytest.Pytester, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``kcheck run`` in this process; its kernel modules are forgotten afterwards, so that a
    later run imports the edited file (pytester's runpytest does the same)."""
    capsys.readouterr()
    before = set(sys.modules)
    try:
        code = main(["run", "-n", "0", "--configs", "0", "--shapes", "small", *args])
    finally:
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(p.path)):
                del sys.modules[name]
    return code, capsys.readouterr().out


@pytest.fixture
def golden_dir(kernel_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    kernel_dir.makeini(GOLDEN_INI)
    monkeypatch.setenv("COLUMNS", "80")
    return kernel_dir


def _golden(p: pytest.Pytester) -> list[Record]:
    return [r for r in read_records(p.path / "reports" / "results.jsonl") if r.mode == "golden"]


def _line_with(out: str, label: str) -> str:
    [line] = [line for line in out.splitlines() if line.lstrip().startswith(f"{label}: ")]
    return line.split(f"{label}: ", 1)[1]


def test_golden_groups_say_how_to_create_and_accept_everywhere(
    golden_dir: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    select = ["-k", "golden and fp32 and default"]
    code, out = _kcheck_run(golden_dir, capsys, *select)
    assert code == 1
    [missing] = _golden(golden_dir)
    assert missing.category is Category.GOLDEN_MISSING
    create = missing.fields["accept"]
    assert "--update-golden" in shlex.split(create) and create != missing.repro
    # The run's last screen: the group, its next step and the create command whole on one line.
    assert _line_with(out, "create") == create
    assert "--update-golden" in _line_with(out, "next")
    assert "FAILED " not in out, "pytest's per-case short summary is off under kcheck run"

    # Bless, then change the kernel: a golden-diff whose diff and accept command are shown.
    assert _kcheck_run(golden_dir, capsys, *select, "--update-golden")[0] == 0
    src = kernel_source().replace("out[tile] = x[tile] + y[tile]", "out[tile] = x[tile] + y[tile] * 2")
    (golden_dir.path / "kernels" / "add.py").write_text(src)
    code, out = _kcheck_run(golden_dir, capsys, *select)
    assert code == 1
    [diff] = _golden(golden_dir)
    assert diff.category is Category.GOLDEN_DIFF
    accept = diff.fields["accept"]
    assert "--update-golden" in shlex.split(accept) and accept != diff.repro
    assert _line_with(out, "accept") == accept
    first = diff.fields["diff"].splitlines()[0]
    assert first[:60] in out, "the diff's first lines"
    assert "FAILED " not in out

    # kcheck triage: the same, from the records.
    capsys.readouterr()
    assert main(["triage", "reports"]) == 0
    out = capsys.readouterr().out
    assert _line_with(out, "accept") == accept and first[:60] in out

    # kcheck report: the comment shows them relative to the repository root (the rootdir).
    assert main(["report", "reports", "--out", "out", "--quiet"]) == 1
    comment = (golden_dir.path / "out" / "summary.md").read_text()
    relative = relative_command(accept, diff.nodeid)
    assert relative.startswith("python -m pytest 'kernels/add.py::golden[add-64x96-fp32-default]'")
    assert relative in comment and str(golden_dir.path) not in relative
    assert sys.executable not in comment.split("(from the repository root)", 1)[1]
    assert relative in (golden_dir.path / "out" / "triage.md").read_text()


def test_pytests_short_summary_is_off_under_kcheck_run_and_comes_back_with_rfE(
    kernel_dir: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    src = kernel_source().replace("return x + y\n", "return x - y\n", 1)
    (kernel_dir.path / "kernels" / "add.py").write_text(src)
    code, out = _kcheck_run(kernel_dir, capsys)
    assert code == 1
    records = list(read_records(kernel_dir.path / "reports" / "results.jsonl"))
    assert {r.category for r in records} == {Category.NUMERICAL_MISMATCH}
    assert "FAILED " not in out and "short test summary" not in out
    lines = out.rstrip("\n").splitlines()
    kcheck = max(i for i, line in enumerate(lines) if "kcheck" in line and "=" in line)
    after = lines[kcheck:]
    # The groups are the last screen: only the records line and pytest's count line follow them.
    assert any(line.startswith("1. numerical-mismatch x") for line in after)
    tail = lines[next(i for i, line in enumerate(lines) if line.lstrip().startswith("repro: ")) + 1 :]
    assert [line.split(":")[0] for line in tail[:1]] == ["records"], tail
    # pytest's count line; warnings (from the environment's packages) may be counted in it.
    assert len(tail) == 2 and re.fullmatch(r"\d+ failed(, \d+ warnings?)? in [\d.]+s", tail[1]), tail
    # The repro command: whole on one line at 80 columns, the representative's own.
    repro = _line_with(out, "repro")
    assert repro in {r.repro for r in records} and len(repro) > 80
    assert "next: usually the kernel's code" in out

    code, out = _kcheck_run(kernel_dir, capsys, "-rfE")
    assert code == 1
    assert "short test summary" in out and "FAILED " in out, "available again with -rfE"


def test_the_next_steps_docs_quote_are_the_tables() -> None:
    """docs/triage.md quotes some categories' next-step lines: each is its row's text."""
    docs = (Path(__file__).parents[1] / "docs" / "triage.md").read_text(encoding="utf-8")
    table = docs.split("The next-step lines, one per category", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert len(rows) >= 3
    for category, text in rows:
        assert Category(category.strip("| `")).traits.next_step == text.rstrip(" |"), category
