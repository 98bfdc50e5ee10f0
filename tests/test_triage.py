"""``kcheck triage``: grouping by cause, shared knobs, several runs, markdown, the comment's links
to it, the terminal summary at 80 columns and the progress plugin."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from checker.categories import Category
from checker.cli import main
from checker.console import MAX_EXAMPLES
from checker.model import CaseId, Record
from checker.progress import Progress, Snapshot, kernel_of
from checker.report.summary import render as render_comment
from checker.report.terminal import failure_groups_view, render, render_classification
from checker.results.baseline import classify
from checker.results.context import NO_REASON, not_run_facts, not_run_groups, result_tables
from checker.results.group import GroupKey, format_knobs, group_key, headline, shared_knobs, triage
from checker.results.merge import merge, parse_shard
from checker.triage.render import render_markdown, render_terminal

NUMEL_MESSAGE = """CompilationError: at 3:14:
def _helion_k(x, out):
    load = tl.load(x + indices_0[:, None] * 128)
              ^
ValueError('numel (4194304) exceeds triton maximum tensor numel (1048576)')
ValueError: numel (4194304) exceeds triton maximum tensor numel (1048576)"""

FRONTEND_MESSAGE = """CompilationError: at 16:24:
    x_max = tl.cast(tl.max(values, 2), tl.float32)
                    ^
CompilationError: at 15:15:
        return core.reduce(input, axis, _elementwise_max, keep_dims=keep_dims)
               ^
invalid axis 2. Expected -2 <= axis < 2
ValueError: invalid axis 2. Expected -2 <= axis < 2"""


def rec(
    kernel: str = "softmax",
    category: Category = Category.COMPILER_CRASH,
    signature: str | None = "aaaaaaaaaaaa",
    *,
    shape: tuple[int, ...] = (64, 128),
    dtype: str = "fp32",
    config: str = "cfg0",
    knobs: dict[str, Any] | None = None,
    message: str = "RuntimeError: PassManager::run failed",
    fields: dict[str, Any] | None = None,
) -> Record:
    case = CaseId(kernel, shape, dtype, config)
    return Record(
        case=case,
        category=category,
        mode="native",
        target="sm_90",
        config=knobs,
        config_repr=f"helion.Config({knobs})" if knobs else None,
        toolchain={"triton": "3.6.0"},
        duration_s=0.5,
        message=message,
        signature=signature,
        fields=fields or {},
        repro=f"pytest 'kernels/{kernel}.py::{case.name}'",
        nodeid=f"kernels/{kernel}.py::{case.name}",
    )


def shard(tmp_path: Path, name: str, records: list[Record]) -> Path:
    path = tmp_path / name
    path.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    return path


# --- grouping ---------------------------------------------------------------------------------


def test_one_compiler_crash_in_two_kernels_is_one_group() -> None:
    records = [
        rec("softmax", shape=(64, 128)),
        rec("attention", shape=(2, 4, 64, 64), dtype="bf16"),
        rec("attention", shape=(2, 4, 64, 64), dtype="fp16"),
        rec("softmax", Category.PASSED, None, config="cfg1"),
    ]
    [group] = triage([("run", records)]).groups
    assert group.cases == 3
    assert group.kernels() == {"attention": 2, "softmax": 1}
    assert group.dtypes() == {"fp32": 1, "bf16": 1, "fp16": 1}
    assert group.shapes() == {"64x128": 1, "2x4x64x64": 2}


def test_mismatches_of_two_kernels_with_one_signature_are_two_groups() -> None:
    mismatch = Category.NUMERICAL_MISMATCH
    msg = "3 of 3 elements (100%) outside rtol=0.08 atol=0.08"
    records = [
        rec("longsum", mismatch, "2b79d08c1352", message=msg),
        rec("longsum", mismatch, "2b79d08c1352", message=msg, config="cfg1"),
        rec("kl_div", mismatch, "2b79d08c1352", message=msg),
    ]
    groups = triage([("run", records)]).groups
    assert [(g.key.scope, g.cases) for g in groups] == [("kernel=longsum", 2), ("kernel=kl_div", 1)]
    assert groups[0].anchor != groups[1].anchor


def test_numel_overflow_groups_by_limit_not_numel() -> None:
    def overflow(kernel: str, numel: int, limit: int) -> Record:
        return rec(kernel, Category.NUMEL_OVERFLOW, "93fe9aa621b8", fields={"numel": numel, "limit": limit})

    records = [
        overflow("a", 4194304, 1048576),
        overflow("b", 2097152, 1048576),
        overflow("a", 9 << 20, 1 << 21),
    ]
    groups = triage([("run", records)]).groups
    assert [(g.key.scope, g.cases) for g in groups] == [("limit=1048576", 2), ("limit=2097152", 1)]
    assert groups[0].kernels() == {"a": 1, "b": 1}


def test_largest_group_first_and_lost_and_skips() -> None:
    records = [
        rec("k", Category.OUT_OF_RESOURCES, "bbbbbbbbbbbb"),
        *(rec("k", config=f"cfg{i}") for i in range(3)),
        rec("k", Category.NOT_RUN, None, config="cfg9", fields={"reason": "no GPU"}),
        rec("k", Category.NOT_RUN, "not-run-lost", config="cfg8", fields={"reason": "lost"}),
    ]
    groups = triage([("run", records)]).groups
    assert [(g.key.category, g.cases) for g in groups] == [
        (Category.COMPILER_CRASH, 3),
        (Category.NOT_RUN, 1),
        (Category.OUT_OF_RESOURCES, 1),
    ], "a lost case fails the run and is a group; a not-run skip is not"


def test_shared_knobs_index_into_list_valued_knobs() -> None:
    configs = [
        {"block_sizes": [64, 32], "num_warps": 16, "range_unroll_factors": [1, 4], "pid_type": "flat"},
        {"block_sizes": [64, 16], "num_warps": 16, "range_unroll_factors": [2, 4], "pid_type": "flat"},
        {"block_sizes": [64], "num_warps": 16, "range_unroll_factors": [0, 4], "pid_type": "flat", "x": 1},
    ]
    knobs = shared_knobs(configs)
    assert knobs == {"block_sizes[0]": 64, "num_warps": 16, "range_unroll_factors[1]": 4, "pid_type": "flat"}
    assert (
        format_knobs(knobs) == "block_sizes[0]=64, num_warps=16, range_unroll_factors[1]=4, pid_type='flat'"
    )
    # a knob missing from one config, or equal only after conversion, is not shared
    assert shared_knobs([{"a": 1, "b": True, "c": [[1, 0]]}, {"b": 1, "c": [[1, 1]]}]) == {"c[0][0]": 1}
    assert shared_knobs([]) == {}
    records = [rec(config=f"cfg{i}", knobs=c) for i, c in enumerate(configs)]
    [group] = triage([("run", records)]).groups
    assert group.shared_knobs() == knobs
    assert "shared by all 3 failing configs: `block_sizes[0]=64, num_warps=16" in render_markdown(
        triage([("run", records)])
    )


def test_minimal_config_is_shown_when_a_record_carries_it() -> None:
    plain = triage([("run", [rec(config="cfg0", knobs={"num_warps": 4})])])
    assert "minimal" not in render_markdown(plain)
    carried = rec(config="cfg1", knobs={"num_warps": 16}, fields={"minimal_config": {"num_warps": 16}})
    result = triage([("run", [rec(config="cfg0", knobs={"num_warps": 4}), carried])])
    assert result.groups[0].minimal_config() == {"num_warps": 16}
    assert "- minimal failing config: `num_warps=16`" in render_markdown(result)
    assert "minimal config: num_warps=16" in render_terminal(result, width=80)


def test_several_runs_give_first_and_last_seen(tmp_path: Path) -> None:
    crash = rec("softmax")
    oom = rec("matmul", Category.OUT_OF_RESOURCES, "cccccccccccc")
    later = dataclasses.replace(crash, repro="pytest later", duration_s=0.7)
    runs = [("night-1", [crash]), ("night-2", [oom]), ("night-3", [later, oom])]
    result = triage(runs)
    by_category = {g.key.category: g for g in result.groups}
    assert by_category[Category.COMPILER_CRASH].runs == (0, 2)
    assert by_category[Category.OUT_OF_RESOURCES].runs == (1, 2)
    assert by_category[Category.COMPILER_CRASH].representative.repro == "pytest later", "the latest run's"
    assert by_category[Category.COMPILER_CRASH].cases == 1, "one case failing in two runs counts once"
    md = render_markdown(result)
    assert "- seen in 2 of 3 runs; first `night-1`, last `night-3`" in md
    assert "- seen in 2 of 3 runs; first `night-2`, last `night-3`" in md
    assert "seen" not in render_markdown(triage([("only", [crash])])), "one run: nothing to compare"
    # the CLI: one argument per run, in the order given
    paths = [shard(tmp_path, f"r{i}.jsonl", recs) for i, (_, recs) in enumerate(runs)]
    out = tmp_path / "t.md"
    assert main(["triage", *map(str, paths), "--markdown", str(out), "--quiet"]) == 0
    assert f"first `{paths[0]}`, last `{paths[2]}`" in out.read_text()


# --- headline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "message", "fields", "expected"),
    [
        (
            Category.NUMEL_OVERFLOW,
            NUMEL_MESSAGE,
            {},
            "numel (4194304) exceeds triton maximum tensor numel (1048576)",
        ),
        (
            Category.COMPILER_CRASH,
            FRONTEND_MESSAGE,
            {},
            "ValueError: invalid axis 2. Expected -2 <= axis < 2",
        ),
        (
            Category.COMPILER_CRASH,
            "PTXASError: PTXAS error: Internal Triton PTX codegen error\n`ptxas` stderr:\n"
            "ptxas info    : (C7511) in the function '_helion_k'\n"
            "ptxas fatal   : (C7600) Register allocation failed with register count of '64'.",
            {},
            "ptxas fatal : (C7600) Register allocation failed with register count of '64'.",
        ),
        (
            Category.COMPILER_CRASH,
            "RuntimeError: PassManager::run failed\ncompiler diagnostics:\n/tmp/x.py:1:0: error: ...",
            {"pass": "TritonGPURemoveLayoutConversions"},
            "MLIR pass TritonGPURemoveLayoutConversions failed",
        ),
        (
            Category.OUT_OF_RESOURCES,
            "OutOfResources: out of resource: shared memory, Required: 797696, Hardware limit: 232448.",
            {},
            "out of resource: shared memory, Required: 797696, Hardware limit: 232448.",
        ),
        (Category.NUMERICAL_MISMATCH, "\n  output 0: 1 of 1 elements\nmore", {}, "output 0: 1 of 1 elements"),
        (Category.RUNTIME_ERROR, "", {}, "runtime-error"),
    ],
)
def test_headline_picks_the_informative_line(
    category: Category, message: str, fields: dict[str, Any], expected: str
) -> None:
    assert headline(rec(category=category, message=message, fields=fields)) == expected


# --- markdown ---------------------------------------------------------------------------------

HOSTILE = (
    "@octocat see [click](https://evil.example) <img src=x onerror=alert(1)> | a | ``` x\n"
    "::error::pwned\n# Heading\n<details>\u202eevil"
)


def _outside_code(text: str) -> str:
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip() == fence:
                fence = None
            continue
        line = re.sub(r"(`+)(?:(?!\1).)+?\1", "", line)
        out.append(line)
    return "\n".join(out)


def test_markdown_shows_hostile_text_only_as_code() -> None:
    evil = dataclasses.replace(
        rec(
            "k@octocat|<b>",
            Category.NUMEL_OVERFLOW,
            "@octocat <b>",
            message=HOSTILE,
            knobs={"num_warps": "<script>@octocat"},
            fields={"minimal_config": {"[x](https://evil.example)": "@octocat"}},
        ),
        repro="pytest x\n::error::repro @octocat",
    )
    runs = [("<img src=y>.jsonl", [evil]), ("@octocat/r.jsonl", [evil])]
    text = render_markdown(triage(runs))
    outside = _outside_code(text)
    for live in ("@octocat", "https://evil", "<img", "<script", "<b>", "[click]", "::error::", "# Heading"):
        assert live not in outside, live
    assert "\u202e" not in text
    tables = [line for line in text.splitlines() if line.startswith("| [")]
    assert tables and all(len(re.split(r"(?<!\\)\|", line)) == 6 for line in tables), "pipes escaped"
    assert "<details>" not in outside.replace("<details><summary>", ""), "only our own details element"


def test_anchors_are_stable_and_link_each_section() -> None:
    # Pinned: a changed anchor breaks the links of every comment already posted.
    assert GroupKey(Category.COMPILER_CRASH, "ff96e0e289e6").anchor == "group-43132804b5"
    a = rec("softmax", config="cfg0")
    b = rec("attention", shape=(1, 2), config="cfg7", message="other text, same signature")
    assert group_key(a).anchor == group_key(b).anchor
    md = render_markdown(triage([("r", [a, b, rec("x", Category.RUN_TIMEOUT, "dddddddddddd")])]))
    anchors = re.findall(r'<a id="(group-[0-9a-f]{10})"></a>', md)
    links = re.findall(r"\]\(#(group-[0-9a-f]{10})\)", md)
    assert len(anchors) == 2 and anchors == links, "the index links every section, in order"


# --- CLI --------------------------------------------------------------------------------------


def test_cli_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = shard(
        tmp_path, "results.jsonl", [rec("softmax"), rec("softmax", Category.PASSED, None, config="c1")]
    )
    assert main(["triage", str(good)]) == 0, "a view: failures do not fail it"
    out = capsys.readouterr().out
    assert "kcheck triage: 1 failing cases in 1 groups" in out and "compiler-crash x1" in out
    missing = tmp_path / "nope.jsonl"
    assert main(["triage", str(good), str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    assert main(["triage", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert f"{garbage}:1" in err and f"{garbage}: no readable records" in err
    # default: reports/results.jsonl of the working directory
    monkeypatch.chdir(tmp_path)
    assert main(["triage"]) == 2
    (tmp_path / "reports").mkdir()
    shard(tmp_path / "reports", "results.jsonl", [rec()])
    assert main(["triage", "--markdown", "t.md"]) == 0
    assert (tmp_path / "t.md").read_text().startswith("# kcheck triage")
    not_a_dir = tmp_path / "reports" / "results.jsonl" / "t.md"
    assert main(["triage", "--markdown", str(not_a_dir), "--quiet"]) == 5  # docs/reports.md#exit-statuses
    assert f"{not_a_dir}: cannot write" in capsys.readouterr().err


# --- the PR comment links to triage.md --------------------------------------------------------


def test_report_writes_triage_md_and_the_comment_links_each_group(tmp_path: Path) -> None:
    mismatch = Category.NUMERICAL_MISMATCH
    records = [
        rec("longsum", mismatch, "2b79d08c1352", message="3 of 3 elements outside"),
        rec("kl_div", mismatch, "2b79d08c1352", message="3 of 3 elements outside"),
        rec("block_absmax", Category.NUMEL_OVERFLOW, "93fe9aa621b8", message=NUMEL_MESSAGE),
        rec("softmax", Category.PASSED, None, config="cfg3"),
    ]
    out = tmp_path / "out"
    assert main(["report", str(shard(tmp_path, "r.jsonl", records)), "--out", str(out), "--quiet"]) == 1
    comment = (out / "summary.md").read_text()
    triage_md = (out / "triage.md").read_text()
    links = re.findall(r"\]\(triage\.md#(group-[0-9a-f]{10})\)", comment)
    anchors = re.findall(r'<a id="(group-[0-9a-f]{10})"></a>', triage_md)
    assert len(set(links)) == 3 and set(links) == set(anchors), "mismatches of two kernels: two groups"
    assert "New failures: 3 cases, 3 groups" in comment
    assert "`numel (4194304) exceeds triton maximum tensor numel (1048576)`" in comment
    assert "CompilationError: at 3:14:" not in comment.split("- message:")[0], "headline, not position"


# --- the terminal -----------------------------------------------------------------------------

LONG = "healthy_after_device_assert_with_a_long_name"


def _sweep() -> list[Record]:
    out = [rec(LONG, Category.PASSED, None, config=f"p{i}") for i in range(3)]
    for i in range(20):
        out.append(rec("block_absmax", Category.NUMEL_OVERFLOW, "93fe9aa621b8", config=f"cfg{i}",
                       message=NUMEL_MESSAGE, fields={"limit": 1048576}))  # fmt: skip
        out.append(rec("attention", Category.COMPILER_CRASH, "ff96e0e289e6", config=f"cfg{i}"))
        out.append(rec("matmul", Category.OUT_OF_RESOURCES, "058a1691c0ab", config=f"cfg{i}"))
    others = (Category.RUN_TIMEOUT, Category.WORKER_DIED, Category.DEVICE_ASSERT, Category.CUDA_OOM)
    out += [rec("endless", c, c.value[:12], config=f"d{i}") for i, c in enumerate(others)]
    return out


def test_terminal_at_80_columns_cuts_no_kernel_or_category_name() -> None:
    text = render(_sweep(), width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    table = text.split("failures:")[0]
    assert any(line.startswith(f"│ {LONG} ") for line in lines), "the name whole, on one line"
    for name in ("numel-overflow", "compiler-crash", "out-of-resources", "run-timeout", "worker-died"):
        assert name in table.replace("\n", " ").replace("│", " "), name
    assert "…" not in table
    wide = render(_sweep()[:10], width=200)
    header = next(line for line in wide.splitlines() if "kernel" in line and "cases" in line)
    assert "numel-overflow" in header, "one column per category while they fit"


def test_terminal_groups_failures_with_count_headline_and_few_examples() -> None:
    text = render(_sweep(), width=80)
    assert "failures: 64 cases in 7 groups" in text
    assert text.count("x20") == 3 and text.count("repro: ") == 7
    assert text.count("e.g. ") == 7, "one block per group, not per case"
    assert text.count("block_absmax[") == MAX_EXAMPLES + 1, "examples, plus the repro's case"
    assert "... and 17 more" in text
    assert "numel (4194304) exceeds triton maximum tensor numel (1048576)" in text
    assert "CompilationError: at 3:14:" not in text
    assert len(text.splitlines()) < 120, "was ~15 lines a case"


def test_report_terminal_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    records = _sweep()
    result = classify(merge([parse_shard("m", "".join(r.to_json() + "\n" for r in records).encode())]))
    monkeypatch.setenv("COLUMNS", "80")
    text = render_classification(result)
    assert max(len(line) for line in text.splitlines()) <= 80, "the terminal's width, not 120"
    assert any(line.startswith(f"│ {LONG} ") for line in text.splitlines())
    assert "numel (4194304) exceeds" in text and "triage.md#group-" in text
    comment = render_comment(result)
    assert comment.count("](triage.md#group-") == 7


# --- progress ---------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class _Report:
    nodeid: str
    when: str
    outcome: str = "passed"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def test_progress_lines_in_a_log_at_most_every_30_s() -> None:
    clock, lines = _Clock(), []
    p = Progress(tty=False, write=lines.append, clock=clock)
    ids = [f"k.py::attention[8x16-fp32-cfg{i}]" for i in range(10)]
    # The project's own tests in the same session are not cases of the sweep.
    p.pytest_xdist_node_collection_finished(None, [*ids, "tests/test_x.py::test_y", "t.py::test_z[1]"])
    p.pytest_xdist_node_collection_finished(None, ["k.py::other[8x16-fp32-cfg0]"])  # a second worker
    assert p.total == 10
    p.pytest_runtest_logstart("tests/test_x.py::test_y", None)
    p.pytest_runtest_logreport(_Report("tests/test_x.py::test_y", "call", "failed"))  # type: ignore[arg-type]
    for i, nodeid in enumerate(ids):
        p.pytest_runtest_logstart(nodeid, None)
        clock.now += 10
        p.pytest_runtest_logreport(_Report(nodeid, "setup"))  # type: ignore[arg-type]
        outcome = "failed" if i == 1 else "passed"
        p.pytest_runtest_logreport(_Report(nodeid, "call", outcome))  # type: ignore[arg-type]
        p.pytest_runtest_logreport(_Report(nodeid, "teardown", outcome))  # type: ignore[arg-type]
    assert len(lines) == 3, "100 s of cases: a line at 30, 60 and 90 s"
    assert lines[0] == "kcheck: 3/10 cases (30%), 1 failed, elapsed 30s, ETA 1m10s; now: attention"
    p.pytest_sessionfinish(None)  # type: ignore[arg-type]
    assert lines[-1].startswith("kcheck: 10/10 cases (100%), 1 failed, elapsed 1m40s, ETA 0s")


def test_progress_counts_setup_failures_and_crashes_once() -> None:
    p = Progress(tty=False, write=lambda _: None, clock=_Clock())
    p.pytest_runtest_logreport(_Report("a.py::k[8x16-fp32-cfg1]", "setup", "failed"))  # type: ignore[arg-type]
    p.pytest_runtest_logreport(_Report("a.py::k[8x16-fp32-cfg2]", "setup", "skipped"))  # type: ignore[arg-type]
    p.pytest_runtest_logreport(_Report("a.py::k[8x16-fp32-cfg3]", "???", "failed"))  # type: ignore[arg-type]
    assert (p.done, p.failed) == (3, 2)
    assert Snapshot(0, 5, 0, 0.0, "").eta_s is None and Snapshot(2, 6, 0, 20.0, "").eta_s == 40.0
    assert kernel_of("kernels/attention.py::causal_attention[2x1x33x16-fp16-wide_q]") == "causal_attention"


def test_progress_registered_in_a_pytest_run_writes_its_own_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "def pytest_configure(config):\n    from checker.progress import register\n    register(config)\n"
    )
    pytester.makepyfile(
        "import pytest\n@pytest.mark.parametrize('i', range(4), ids=lambda i: f'8x16-fp32-cfg{i}')\n"
        "def test_k(i):\n    assert i != 2\n\ndef test_not_a_case():\n    pass\n"
    )
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "-p", "no:kcheck", "-p", "no:xdist"
    )
    result.stdout.fnmatch_lines(["kcheck: 4/4 cases (100%), 1 failed, elapsed *, ETA 0s; now: test_k"])


def _in_a_terminal(pytester: pytest.Pytester, *args: str) -> str:
    """pytest's output when it runs in a pseudo-terminal (a TTY, as a person's shell is)."""
    master, slave = os.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=pytester.path,
        env=env,
    ) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_plain_pytest_in_a_terminal_gets_status_lines_not_the_bar(pytester: pytest.Pytester) -> None:
    """Plain pytest writes each module's path and ``[ NN%]`` where a bar would be redrawn: the bar
    is only for -q (kcheck run); plain pytest gets kcheck's status line on a line of its own."""
    pytester.makeconftest(
        "def pytest_configure(config):\n    from checker.progress import register\n    register(config)\n"
    )
    pytester.makepyfile(
        "import pytest\n@pytest.mark.parametrize('i', range(4), ids=lambda i: f'8x16-fp32-cfg{i}')\n"
        "def test_k(i):\n    assert i != 2\n"
    )
    base = ("-p", "no:cacheprovider", "-p", "no:kcheck", "-p", "no:xdist", "--tb=no")
    plain = _in_a_terminal(pytester, *base)
    assert "━" not in plain, plain
    line = r"(?m)^kcheck: 4/4 cases \(100%\), 1 failed, elapsed \S+, ETA 0s; now: test_k\r?$"
    assert re.search(line, plain), plain
    quiet = _in_a_terminal(pytester, "-q", *base)
    assert "━" in quiet and "kcheck: 4/4" not in quiet, quiet


# --- not run and result tables (checker/results/context.py) --------------------------------------


def ingested(
    kernel: str,
    category: Category = Category.NOT_RUN,
    *,
    config: str = "input0",
    shape: tuple[int, ...] = (),
    message: str = "",
    fields: dict[str, Any] | None = None,
) -> Record:
    """A record as ``kcheck ingest-log`` writes it (docs/ingest-log.md)."""
    return Record(
        case=CaseId(kernel, shape, "unknown", config),
        category=category,
        mode="ingested",
        target="unknown",
        config=None,
        config_repr=None,
        toolchain={},
        duration_s=0.0,
        message=message,
        fields=fields or {},
    )


def cell(
    impl: str, x_val: str, metrics: dict[str, Any] | None, category: Category = Category.PASSED
) -> Record:
    fields: dict[str, Any] = {"operator": "rms_norm", "implementation": impl, "x_val": x_val}
    if metrics is not None:
        fields["metrics"] = metrics
    return ingested(impl, category, config="table", shape=(1,), fields=fields)


INTERRUPTED = ingested(
    "helion_softmax",
    config="input46",
    message="run interrupted (KeyboardInterrupt) while helion_softmax ran on input 46\nsecond line",
    fields={
        "reason": "interrupted",
        "shard": "2/4",
        "input_index": 46,
        "innermost_frame": "basic.py:869 in args",
        "helion_frame": "type_propagation.py:501 in propagate_getitem",
    },
)


def no_gpu(i: int) -> Record:
    return rec(
        f"k{i}", Category.NOT_RUN, None, fields={"reason": "no GPU"}, message="full shape, not executed"
    )


def test_not_run_groups_by_reason_without_lost_cases_and_no_gpu_last() -> None:
    records = [
        no_gpu(0),
        INTERRUPTED,
        ingested("b", fields={"reason": "never-started", "kernels_planned": 3, "kernels_started": ["a"]}),
        ingested("c", fields={"reason": "never-started", "kernels_planned": 3, "kernels_started": ["a"]}),
        rec("lost", Category.NOT_RUN, "not-run-lost", fields={"reason": "lost"}),
        rec("skip", Category.INTERPRETER_UNSUPPORTED, None),
        ingested("d"),
    ]
    groups = not_run_groups(records)
    assert [(g.reason, [r.case.kernel for r in g.records], g.listed) for g in groups] == [
        ("never-started", ["b", "c"], True),
        ("interrupted", ["helion_softmax"], True),
        (NO_REASON, ["d"], True),
        ("no GPU", ["k0"], False),
    ]
    result = triage([("run", records)])
    assert [g.key.category for g in result.groups] == [Category.NOT_RUN], "the lost case is a failure"
    assert result.not_run_cases == 5


def test_not_run_facts_say_shard_input_and_where_it_was_cut_off() -> None:
    assert not_run_facts(INTERRUPTED) == (
        "shard 2/4; input 46; cut off at basic.py:869 in args "
        "(Helion: type_propagation.py:501 in propagate_getitem)"
    )
    shard_rec = ingested(
        "softmax",
        fields={"reason": "aborted", "shard": "1/4", "inputs_not_completed": [1, 7], "cause": "x: Error"},
    )
    assert not_run_facts(shard_rec) == "shard 1/4; inputs 1-7 not completed; cause: x: Error"
    never = ingested(
        "k2",
        fields={
            "reason": "never-started",
            "kernels_planned": 4,
            "kernels_started": [],
            "run_stopped": "died",
        },
    )
    assert not_run_facts(never) == "run announced 4 kernels, started none; run stopped: died"
    assert not_run_facts(no_gpu(1)) == "", "kcheck's own records: the message says it"


def test_terminal_lists_not_run_cases_and_only_counts_no_gpu() -> None:
    records = [INTERRUPTED, *(no_gpu(i) for i in range(30)), rec("softmax")]
    out = render_terminal(triage([("run", records)]), width=80)
    assert "kcheck triage: 1 failing cases in 1 groups; 31 not run (interrupted 1, no GPU 30)" in " ".join(
        out.split()
    )
    block = out[out.index("Not run: 31 cases") :]
    assert "interrupted x1\n    helion_softmax[input46]\n      shard 2/4; input 46; cut off at" in block
    assert "no GPU: 30 cases, counted, not listed" in block
    assert "k0[" not in out and "full shape, not executed" not in out, "no-GPU cases are not listed"
    assert all(len(line) <= 80 for line in out.splitlines())


def test_not_run_detail_falls_back_to_the_message_first_line() -> None:
    odd = ingested("x", message="\nworker gave up: disk full\ntraceback...", fields={"reason": "gave-up"})
    out = render_terminal(triage([("run", [odd])]), width=80)
    assert "gave-up x1\n    x[input0]\n      worker gave up: disk full\n" in out
    assert "traceback..." not in out


def test_result_tables_one_per_operator_rows_in_first_seen_order() -> None:
    records = [
        cell("llama_rms", "(2048, 1024)", {"latency": 0.0123}),
        cell("helion_rms", "(2048, 1024)", {"speedup": 1.31, "latency": 0.009, "accuracy": True}),
        cell("llama_rms", "(2048, 2048)", None, Category.CUDA_OOM),
        cell("helion_rms", "(2048, 2048)", {"speedup": 1.1, "accuracy": False}, Category.NUMERICAL_MISMATCH),
        cell("helion_rms", "(512, 64)", None, Category.RUNTIME_ERROR),
        cell("triton_rms", "(512, 64)", None, Category.NOT_RUN),
        dataclasses.replace(
            cell("aten", "4096", {"latency": 2.5}), fields={"operator": "gemm", "x_val": "4096"}
        ),
    ]
    records[5].fields["reason"] = "not supported"
    [rms, gemm] = result_tables(records)
    assert rms.operator == "rms_norm" and gemm.operator == "gemm"
    assert rms.rows == ("(2048, 1024)", "(2048, 2048)", "(512, 64)")
    assert rms.implementations == ("llama_rms", "helion_rms", "triton_rms")
    texts = [[c.text if c else None for c in row] for row in rms.cells]
    assert texts == [
        ["0.0123 ms", "1.31x", None],
        ["cuda-oom", "1.10x", None],
        [None, "runtime-error", "not supported"],
    ]
    assert [c.inaccurate for c in rms.cells[1] if c] == [False, True]
    assert gemm.implementations == ("aten",), "the case's kernel when fields.implementation is missing"
    assert gemm.cell("4096", "aten") is not None and gemm.cell("4096", "x") is None


def test_terminal_and_markdown_show_the_table_and_mark_inaccurate_cells() -> None:
    records = [
        cell("llama_rms", "(2048, 1024)", {"latency": 0.0123}),
        cell("helion_rms", "(2048, 1024)", {"speedup": 1.31}),
        cell("llama_rms", "(2048, 2048)", None, Category.CUDA_OOM),
        cell("helion_rms", "(2048, 2048)", {"speedup": 1.1, "accuracy": False}, Category.NUMERICAL_MISMATCH),
    ]
    result = triage([("run", records)])
    out = render_terminal(result, width=80)
    table = out[out.index("Result table: rms_norm") :]
    rows = [" ".join(line.split()) for line in table.splitlines()]
    assert "x_val llama_rms helion_rms" in rows
    assert "(2048, 1024) 0.0123 ms 1.31x" in rows and "(2048, 2048) cuda-oom 1.10x !acc" in rows
    md = render_markdown(result)
    assert "## Result tables" in md and "### `rms_norm`" in md
    assert "| `(2048, 2048)` | `cuda-oom` | `1.10x` **accuracy: false** |" in md
    # Narrower than the table: one list per x_val, every name whole.
    narrow = render_terminal(result, width=30)
    assert "(2048, 2048)\n  llama_rms  cuda-oom\n  helion_rms 1.10x !acc" in narrow
    assert all(len(line) <= 30 for line in narrow.splitlines())


def test_several_runs_show_the_last_runs_not_run_and_tables() -> None:
    old = [ingested("old_kernel", fields={"reason": "interrupted"}), cell("old_impl", "1", {"speedup": 2.0})]
    new = [INTERRUPTED, cell("new_impl", "1", {"speedup": 3.0})]
    result = triage([("night-1", old), ("night-2", new)])
    out = render_terminal(result, width=100)
    assert "1 not run in the last run (interrupted 1)" in out
    assert "Not run: 1 case (last run: night-2)" in out and "old_kernel" not in out
    assert "3.00x" in out and "old_impl" not in out
    md = render_markdown(result)
    assert "Of the last run only, `night-2`." in md and "old_kernel" not in md


def test_markdown_not_run_and_tables_show_hostile_text_only_as_code() -> None:
    evil = ingested(
        "k@octocat|<b>",
        config="[x](https://evil.example)",
        message=HOSTILE,
        fields={"reason": "@octocat <img src=x>", "shard": "::error::pwned", "cause": HOSTILE},
    )
    table = ingested(
        "<script>@octocat",
        Category.PASSED,
        fields={"operator": "# Heading @octocat", "x_val": "a | b <b>", "metrics": {"<b>": 1.0}},
    )
    md = render_markdown(triage([("run", [evil, table])]))
    assert "## Not run" in md and "## Result tables" in md
    outside = _outside_code(md)
    for live in ("@octocat", "https://evil", "<img", "<script", "<b>", "[click]", "::error::", "# Heading"):
        assert live not in outside, live
    assert "\u202e" not in md
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows and all(len(re.split(r"(?<!\\)\|", line)) == 4 for line in rows), "pipes escaped"


def _synthetic_log() -> str:
    # tests/test_ingest.py's log in Helion's and tritonbench's formats, with a result table.
    spec = importlib.util.spec_from_file_location("_ingest_tests", Path(__file__).with_name("test_ingest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.SYNTHETIC)


def test_triage_of_ingested_seed_and_synthetic_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_logs = sorted((Path(__file__).parent / "data" / "seed-logs").glob("*.log"))
    assert [p.name for p in seed_logs] == ["gemm-benchmark-run.log", "softmax-benchmark-run.log"]
    synthetic = tmp_path / "synthetic.log"
    synthetic.write_text(_synthetic_log(), encoding="utf-8")
    seed_out, synth_out = tmp_path / "seed.jsonl", tmp_path / "synth.jsonl"
    assert main(["ingest-log", *map(str, seed_logs), "-o", str(seed_out)]) == 0
    assert main(["ingest-log", str(synthetic), "-o", str(synth_out)]) == 0
    capsys.readouterr()

    assert main(["triage", str(seed_out), "--markdown", str(tmp_path / "seed.md")]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert "1 failing cases in 1 groups; 6 not run (never-started 3, interrupted 2, aborted 1)" in flat
    # The baseline's failure is a failure group of its own, under the baseline's name.
    assert "runtime-error x1" in out and "kernels: pt2_cutlass_matmul (1)" in out
    assert "FileNotFoundError" in flat and "cutlass_library" in flat
    block = " ".join(out[out.index("Not run: 6 cases") :].split())
    assert (
        "interrupted x2 helion_softmax[input46] shard 2/4; input 46; cut off at basic.py:869 in args "
        "(Helion: type_propagation.py:501 in propagate_getitem)"
    ) in block
    assert "softmax[inputs46-49] shard 2/4; inputs 46-49 not completed; cause: KeyboardInterrupt" in block
    never = block[block.index("never-started x3") : block.index("interrupted x2")]
    assert re.findall(r"unnamed-kernel-\d-of-4", never) == [f"unnamed-kernel-{i}-of-4" for i in (2, 3, 4)]
    assert never.count("run announced 4 kernels, started gemm; run stopped: aborted") == 3
    assert "aborted x1 gemm[inputs1-7] shard 1/4; inputs 1-7 not completed" in block
    assert "Result table" not in out, "the seed logs have no result table"
    md = (tmp_path / "seed.md").read_text(encoding="utf-8")
    assert "### `interrupted` · 2 cases" in md and "`helion_softmax[input46]`" in md

    assert main(["triage", str(synth_out)]) == 0
    out = capsys.readouterr().out
    rows = [" ".join(line.split()) for line in out[out.index("Result table: rms_norm") :].splitlines()]
    assert "x_val llama_rms helion_rms_norm_tritonbench" in rows
    assert "(2048, 1024) 0.0123 ms 1.31x" in rows
    assert "(2048, 2048) cuda-oom 1.10x !acc" in rows
    assert "(2048, 4096) 0.04 ms cuda-oom" in rows
    assert "never-started x1" in out and "softmax[run]" in out


def test_a_numel_group_shows_the_source_lines_the_comment_shows() -> None:
    """The committed known failures (real records of the CPU main job): the numel-overflow
    group's cases point at two lines of block_absmax.py; triage names both, with counts, in the
    terminal and in triage.md, as the comment lists the representative's ``source`` fields."""
    root = Path(__file__).resolve().parents[1]
    path = root / "kcheck-baseline.jsonl"
    result = triage([("run", list(merge([parse_shard(path.name, path.read_bytes())]).records))])
    group = next(g for g in result.groups if g.key.category is Category.NUMEL_OVERFLOW)
    rep = group.representative.fields
    shown = f"{rep['source_file']}:{rep['source_line']}: {rep['source']}"
    assert sum(group.sources().values()) == group.cases and shown in group.sources()
    assert f"source: {shown}" in re.sub(r"\s+", " ", render_terminal(result, width=400))
    assert f"- source: `{shown}`" in render_markdown(result)
    # A group whose records name no source line shows none.
    oor = next(g for g in result.groups if g.key.category is Category.OUT_OF_RESOURCES)
    assert not oor.sources()


def test_the_run_summary_names_the_source_lines_too() -> None:
    """kcheck run's groups (checker/report/terminal.py) show the same source lines as triage."""
    path = Path(__file__).resolve().parents[1] / "kcheck-baseline.jsonl"
    records = list(merge([parse_shard(path.name, path.read_bytes())]).records)
    console = Console(width=400, record=True, file=io.StringIO())
    for part in failure_groups_view(records):
        console.print(part)
    text = console.export_text()
    assert "source: block_absmax.py:40: blk = xv[tm, :, tn, :].to(torch.float32) (12)" in text
