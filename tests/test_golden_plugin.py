"""The golden stage through pytest, in-process with pytester, on the tiny real add kernel.

The add kernel (tests/conftest.py) has 2 dtypes x 2 named configs on its canonical shape
64x96: 4 golden cases, files under golden/cpu-sm_90/add/.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import kernel_source

from checker.categories import Category
from checker.cli import main
from checker.golden import store
from checker.model import Record
from checker.results.jsonl import read_records

GOLDEN_INI = "[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n"
ADD_FILES = [
    "64x96-fp16-default.triton",
    "64x96-fp16-wide.triton",
    "64x96-fp32-default.triton",
    "64x96-fp32-wide.triton",
]


@pytest.fixture
def golden_dir(kernel_dir: pytest.Pytester) -> pytest.Pytester:
    """kernel_dir with the golden stage switched on (ini kcheck_golden_dir = golden)."""
    kernel_dir.makeini(GOLDEN_INI)
    return kernel_dir


def _goldens(p: pytest.Pytester) -> Path:
    return p.path / "golden" / "cpu-sm_90" / "add"


def _golden_records(p: pytest.Pytester) -> list[Record]:
    # The last run of any kind: a golden-only run never becomes `latest` (checker/results/runs.py).
    return [r for r in read_records(p.path / "reports" / "last" / "results.jsonl") if r.mode == "golden"]


#: Golden cases only generate code, in the pytest process: ``--isolate off`` stops the case worker
#: that collection would otherwise start (and kill unused), a torch import per run (docs/ci.md).
NO_WORKER = ("--isolate", "off")


def _run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest("-k", "golden", "-p", "no:xdist", *NO_WORKER, *args)


def _snapshot(p: pytest.Pytester) -> dict[str, bytes]:
    root = p.path / "golden"
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def test_golden_stage_is_off_without_a_configured_directory(kernel_dir: pytest.Pytester) -> None:
    items = kernel_dir.runpytest("--configs", "0", "--collect-only", "-q").stdout.lines
    assert not [i for i in items if "golden[" in i]
    result = kernel_dir.runpytest("--update-golden")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no golden directory is configured*kcheck_golden_dir*"])


def test_prune_without_update_is_a_usage_error(golden_dir: pytest.Pytester) -> None:
    result = golden_dir.runpytest("--prune")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prune*only together with --update-golden*"])


def test_missing_then_update_then_check_then_idempotent(golden_dir: pytest.Pytester) -> None:
    items = golden_dir.runpytest("--configs", "0", "--collect-only", "-q").stdout.lines
    assert "kernels/add.py::golden[add-64x96-fp32-default]" in items
    assert "kernels/add.py::add[64x96-fp32-default]" in items  # the execution case, another node

    result = _run(golden_dir)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*0 passed, 0 golden-diff, 4 golden-missing, 0 golden-stale, 0 unused*"])
    out = result.stdout.str()
    assert "golden-missing" in out and "no golden file golden/cpu-sm_90/add/64x96-fp16-default.triton" in out
    assert (
        "To accept the new code, commit your work first, then re-run with --update-golden: "
        f"{sys.executable} -m pytest '{golden_dir.path / 'kernels/add.py'}::golden[add-64x96-fp16-default]'"
    ) in out
    assert {r.category for r in _golden_records(golden_dir)} == {Category.GOLDEN_MISSING}

    result = _run(golden_dir, "--update-golden")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*4 created, 0 updated, 0 unchanged, 0 unused*"])
    assert sorted(f.name for f in _goldens(golden_dir).iterdir()) == ADD_FILES
    first = _snapshot(golden_dir)
    text = (_goldens(golden_dir) / "64x96-fp32-wide.triton").read_text()
    header, body = store.parse(text, "wide")
    assert header.case == "add[64x96-fp32-wide]" and header.target == "cpu-sm_90"
    assert set(header.toolchain) == {"helion", "triton", "torch"} and "block_sizes=[8, 16]" in header.config
    assert "@triton.jit" in body and "# src[add.py:N]" in body
    assert {r.fields["golden_action"] for r in _golden_records(golden_dir)} == {"created"}

    result = _run(golden_dir, "--update-golden")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*0 created, 0 updated, 4 unchanged, 0 unused*"])
    assert _snapshot(golden_dir) == first  # the second update changed nothing

    result = _run(golden_dir)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*4 passed, 0 golden-diff, 0 golden-missing, 0 golden-stale, 0 unused*"])


def test_editing_the_kernel_changes_exactly_its_goldens(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden").assert_outcomes(passed=4)
    # a second kernel whose goldens must stay untouched
    other = kernel_source().replace('name="add"', 'name="add2"')
    (golden_dir.path / "kernels" / "add2.py").write_text(other)
    _run(golden_dir, "--update-golden").assert_outcomes(passed=8)
    before = _snapshot(golden_dir)

    # only the wide config's code changes: num_warps 2 -> 4, and an extra load
    src = kernel_source().replace("num_warps=2)", "num_warps=4)")
    src = src.replace("out[tile] = x[tile] + y[tile]", "out[tile] = x[tile] + y[tile] * y[tile]")
    (golden_dir.path / "kernels" / "add.py").write_text(src)
    result = _run(golden_dir)
    result.assert_outcomes(failed=4, passed=4)
    records = {r.case.name: r for r in _golden_records(golden_dir) if r.case.kernel == "add"}
    assert {r.category for r in records.values()} == {Category.GOLDEN_DIFF}
    wide = records["add[64x96-fp32-wide]"]
    assert "num_warps=4" in wide.fields["diff"] and "-" in wide.fields["diff"]
    assert wide.fields["golden_path"] == "golden/cpu-sm_90/add/64x96-fp32-wide.triton"
    assert wide.fields["diff_lines"] > 0 and wide.signature
    assert wide.fields["summary"] in wide.message
    # the failure shows the summary before the diff, then how to accept
    out = result.stdout.str()
    assert out.index("summary: ") < out.index("+++ generated") and "--update-golden" in out

    result = _run(golden_dir, "--update-golden")
    result.stdout.fnmatch_lines(["*0 created, 4 updated, 4 unchanged, 0 unused*"])
    after = _snapshot(golden_dir)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {f"cpu-sm_90/add/{name}" for name in ADD_FILES}


def test_structural_summary_counts_loads(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden", "-k", "golden and fp32 and default").assert_outcomes(passed=1)
    src = kernel_source().replace(
        "out[tile] = x[tile] + y[tile]", "out[tile] = x[tile] + y[tile] + x[tile] * 2"
    )
    (golden_dir.path / "kernels" / "add.py").write_text(src)
    _run(golden_dir, "-k", "golden and fp32 and default").assert_outcomes(failed=1)
    rec = _golden_records(golden_dir)[0]
    assert rec.category is Category.GOLDEN_DIFF
    assert rec.fields["counts"]["lines"][0] < rec.fields["counts"]["lines"][1]
    assert rec.fields["summary"].endswith(
        f"lines {rec.fields['counts']['lines'][0]} -> {rec.fields['counts']['lines'][1]}"
    )


def _rewrite_header(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_other_toolchain_is_stale_not_diff(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden").assert_outcomes(passed=4)
    path = _goldens(golden_dir) / "64x96-fp32-default.triton"
    header, _ = store.parse(path.read_text(), "x")
    _rewrite_header(path, f"triton={header.toolchain['triton']}", "triton=0.0.1")
    # a build label of torch (+cpu / +cu128) is not a toolchain change
    other = _goldens(golden_dir) / "64x96-fp16-default.triton"
    _rewrite_header(
        other, f"torch={header.toolchain['torch']}", f"torch={store.release(header.toolchain['torch'])}+cu128"
    )
    result = _run(golden_dir)
    result.assert_outcomes(failed=1, passed=3)
    stale = [r for r in _golden_records(golden_dir) if r.category is not Category.PASSED]
    assert [r.category for r in stale] == [Category.GOLDEN_STALE]
    assert stale[0].fields["golden_toolchain"] == {"triton": "0.0.1"}
    assert stale[0].fields["running_toolchain"] == {"triton": header.toolchain["triton"]}
    assert stale[0].fields["code_changed"] is False
    assert "0.0.1 -> " in stale[0].message and "the code is the same" in stale[0].message
    result.stdout.fnmatch_lines(["*3 passed, 0 golden-diff, 0 golden-missing, 1 golden-stale*"])


def test_unreadable_golden_is_a_diff_and_update_repairs_it(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden").assert_outcomes(passed=4)
    path = _goldens(golden_dir) / "64x96-fp32-default.triton"
    path.write_text("garbage\n")
    _run(golden_dir).assert_outcomes(failed=1, passed=3)
    bad = [r for r in _golden_records(golden_dir) if r.category is not Category.PASSED]
    assert bad[0].category is Category.GOLDEN_DIFF and "not a kcheck golden file" in bad[0].message
    _run(golden_dir, "--update-golden").stdout.fnmatch_lines(["*0 created, 1 updated, 3 unchanged*"])
    _run(golden_dir).assert_outcomes(passed=4)


def test_unused_files_fail_warn_and_prune(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden").assert_outcomes(passed=4)
    stray = _goldens(golden_dir) / "64x96-fp64-removed.triton"
    stray.write_text("old")
    orphan = golden_dir.path / "golden" / "cpu-sm_90" / "renamed_kernel" / "1x1-fp32-default.triton"
    orphan.parent.mkdir()
    orphan.write_text("old")
    keep = golden_dir.path / "golden" / "sm_90" / "add" / "64x96-fp32-default.triton"
    keep.parent.mkdir(parents=True)
    keep.write_text("another target: not judged by a CPU run")

    result = _run(golden_dir)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*4 passed, 0 golden-diff, 0 golden-missing, 0 golden-stale, 2 unused*",
            "*unused: golden/cpu-sm_90/add/64x96-fp64-removed.triton*",
            "*unused: golden/cpu-sm_90/renamed_kernel/1x1-fp32-default.triton*",
            "*--update-golden --prune (commit first)*",
        ]
    )
    # a narrowed run judges only what it collected completely: add, but not unknown kernels
    result = _run(golden_dir, "-k", "golden and fp32")
    assert result.ret == pytest.ExitCode.OK
    (golden_dir.path / "kernels" / "add2.py").write_text(kernel_source().replace('name="add"', 'name="add2"'))
    result = _run(golden_dir, "kernels/add.py")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*, 1 unused*", "*unused: golden/cpu-sm_90/add/64x96-fp64-removed.triton*"])
    (golden_dir.path / "kernels" / "add2.py").unlink()

    assert _run(golden_dir, "--collect-only").ret == pytest.ExitCode.OK  # nothing judged

    result = _run(golden_dir, "--golden-warn-unused")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*2 unused (warning)*"])

    result = _run(golden_dir, "--update-golden")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # updating alone deletes nothing
    assert stray.exists() and orphan.exists()

    result = _run(golden_dir, "--update-golden", "--prune")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*0 created, 0 updated, 4 unchanged, 2 unused (pruned)*"])
    assert not stray.exists() and not orphan.parent.exists() and keep.exists()
    assert _run(golden_dir).ret == pytest.ExitCode.OK


def test_collection_error_suspends_judging_unknown_kernels(golden_dir: pytest.Pytester) -> None:
    _run(golden_dir, "--update-golden").assert_outcomes(passed=4)
    orphan = golden_dir.path / "golden" / "cpu-sm_90" / "maybe_broken" / "x.triton"
    orphan.parent.mkdir()
    orphan.write_text("x")
    (golden_dir.path / "kernels" / "maybe_broken.py").write_text("raise RuntimeError('boom')\n")
    result = golden_dir.runpytest("-p", "no:xdist", "-k", "golden or collection", *NO_WORKER)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*0 unused*"])
    assert orphan.exists()


EXPECTATIONS = """
    SPEC_EXPECT = {"wide": "CHECK: @triton.jit\\nCHECK: tl.load\\nCHECK: CHECK_WHAT"}
"""


def _with_expectations(p: pytest.Pytester, checks: str, tracked: bool = True) -> None:
    src = kernel_source().replace(
        "    dtypes=[torch.float32, torch.float16],",
        "    dtypes=[torch.float32, torch.float16],\n"
        f"    expectations={{'wide': {checks!r}}},\n"
        + ("" if tracked else "    golden=GoldenTracking(enabled=False),\n"),
    )
    src = src.replace("import DEFAULT, KernelSpec", "import DEFAULT, GoldenTracking, KernelSpec")
    (p.path / "kernels" / "add.py").write_text(src)


def test_filecheck_expectations_pass_and_fail(golden_dir: pytest.Pytester) -> None:
    _with_expectations(golden_dir, "CHECK: @triton.jit\nCHECK: tl.load\nCHECK: tl.store", tracked=False)
    items = golden_dir.runpytest("--collect-only", "-q", "-k", "golden").stdout.lines
    assert [i for i in items if "golden[" in i] == [
        "kernels/add.py::golden[add-64x96-fp32-wide]",
        "kernels/add.py::golden[add-64x96-fp16-wide]",
    ]
    _run(golden_dir).assert_outcomes(passed=2)
    assert not (golden_dir.path / "golden").exists()  # untracked: no golden files

    _with_expectations(golden_dir, "CHECK: tl.atomic_add")
    result = _run(golden_dir, "--update-golden")
    result.assert_outcomes(passed=2, failed=2)  # updating never blesses a failed expectation
    result.stdout.fnmatch_lines(
        ["*FileCheck expectation for config 'wide' of add failed*", "*tl.atomic_add*"]
    )
    bad = [r for r in _golden_records(golden_dir) if r.category is not Category.PASSED]
    assert {r.case.config for r in bad} == {"wide"}
    assert all(r.category is Category.GOLDEN_DIFF and r.fields["check"] == "filecheck" for r in bad)
    assert "add.expectations[wide]" in bad[0].fields["filecheck"]


def test_malformed_expectation_is_a_collection_error(golden_dir: pytest.Pytester) -> None:
    _with_expectations(golden_dir, "CHECK: tl.load\nCHEK: tl.store")
    result = _run(golden_dir, "-k", "golden or collection")
    result.assert_outcomes(failed=1)
    assert "expectations['wide']: line 2 is not a FileCheck directive" in result.stdout.str()


def test_golden_records_reach_jsonl_and_junit_with_their_own_node_ids(golden_dir: pytest.Pytester) -> None:
    result = golden_dir.runpytest(
        "--configs",
        "0",
        "-k",
        "fp32 and default",
        "-p",
        "no:xdist",
        "--update-golden",
        # the run cases' own path is not the point here: no case worker, no compile worker
        *("--compile", "off", *NO_WORKER),
    )
    result.assert_outcomes(passed=2, skipped=1)
    records = list(read_records(golden_dir.path / "reports" / "results.jsonl"))
    golden = next(r for r in records if r.mode == "golden")
    run = next(r for r in records if r.mode != "golden" and r.case.shape == golden.case.shape)
    assert golden.case == run.case  # same kernel/shape/dtype/config, another node
    assert golden.nodeid == "kernels/add.py::golden[add-64x96-fp32-default]"
    assert run.nodeid == "kernels/add.py::add[64x96-fp32-default]"
    assert golden.config and golden.stages["codegen"] > 0
    junit = ET.parse(golden_dir.path / "reports" / "junit.xml").getroot()
    modes = [
        {p.get("name"): p.get("value") for p in tc.iter("property")}.get("mode")
        for tc in junit.iter("testcase")
    ]
    assert modes.count("golden") == 1 and len(modes) == 3


def test_console_command_passes_update_golden(golden_dir: pytest.Pytester) -> None:
    code = main(
        ["run", "-n", "0", "--configs", "0", "-k", "golden and fp32", *NO_WORKER, "--", "--update-golden"]
    )
    assert code == 0
    assert sorted(f.name for f in _goldens(golden_dir).iterdir()) == [n for n in ADD_FILES if "fp32" in n]


def test_eight_xdist_workers_updating_at_once_lose_nothing(golden_dir: pytest.Pytester) -> None:
    # 8 kernels x 4 golden cases = 32 files written by 8 worker processes at the same time:
    # the fp32 ones exist with outdated content (updates), the fp16 ones are missing (creates).
    for i in range(8):
        (golden_dir.path / "kernels" / f"add_{i}.py").write_text(
            kernel_source().replace('name="add"', f'name="add_{i}"')
        )
        for name in ADD_FILES:
            if "fp32" in name:
                old = golden_dir.path / "golden" / "cpu-sm_90" / f"add_{i}" / name
                old.parent.mkdir(parents=True, exist_ok=True)
                old.write_text(store.render(store.GoldenHeader(f"add_{i}[x]", "cpu-sm_90", {}, "-"), "old\n"))
    (golden_dir.path / "kernels" / "add.py").unlink()
    result = golden_dir.runpytest("-k", "golden", "-n", "8", "--update-golden", *NO_WORKER)
    result.assert_outcomes(passed=32)
    result.stdout.fnmatch_lines(["*16 created, 16 updated, 0 unchanged, 0 unused*"])
    workers = {r.worker for r in _golden_records(golden_dir)}
    assert len(workers) >= 2, workers  # really concurrent
    written = [f for f in sorted((golden_dir.path / "golden" / "cpu-sm_90").rglob("*")) if f.is_file()]
    assert len(written) == 32 and not [f for f in written if f.suffix != ".triton"]  # no temp files
    for f in written:
        header, body = store.parse(f.read_text(), str(f))
        assert header.case.startswith(f.parent.name + "[") and "@triton.jit" in body

    # every update landed: a check in one process finds all 32 files current
    result = golden_dir.runpytest("-k", "golden", "-p", "no:xdist", *NO_WORKER)
    result.assert_outcomes(passed=32)
    result.stdout.fnmatch_lines(["*32 passed, 0 golden-diff, 0 golden-missing, 0 golden-stale, 0 unused*"])
    lines = (golden_dir.path / "reports" / "last" / "results.jsonl").read_text().splitlines()
    assert len({json.loads(line)["nodeid"] for line in lines}) == 32


def test_sibling_outside_suites_keep_their_goldens_apart(golden_dir: pytest.Pytester) -> None:
    """Two suites side by side (suites/one, suites/two) each keep golden/ inside their own
    directory; before, both wrote suites/golden, and the second's first run was all
    golden-missing. The project's own suite (kernels/, the ini's golden/) is unchanged."""
    p = golden_dir
    for name in ("one", "two"):
        (p.path / "suites" / name).mkdir(parents=True)
        (p.path / "suites" / name / f"add_{name}.py").write_text(kernel_source())
    one, two = p.path / "suites" / "one", p.path / "suites" / "two"

    bless = p.runpytest("-k", "golden and fp32", "-p", "no:xdist", "--kernels", str(one), "--update-golden")
    bless.assert_outcomes(passed=2)
    assert sorted(f.name for f in (one / "golden" / "cpu-sm_90" / "add").iterdir()) == [
        n for n in ADD_FILES if "fp32" in n
    ]
    # The second suite has no golden/ of its own yet: golden checks are off, never missing.
    off = _run(p, "--kernels", str(two / "add_two.py"))
    assert off.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    off.stdout.fnmatch_lines(
        [f"*golden checks are off: {two / 'golden'} (in the kernel suite) does not exist*"]
    )
    assert not (p.path / "suites" / "golden").exists()
    _run(p, "--kernels", str(two), "--update-golden").assert_outcomes(passed=4)
    assert len(list((two / "golden" / "cpu-sm_90" / "add").iterdir())) == 4
    assert len(list((one / "golden" / "cpu-sm_90" / "add").iterdir())) == 2

    # The project's suite still uses the ini's golden/ at the rootdir.
    _run(p, "--update-golden").assert_outcomes(passed=4)
    assert sorted(f.name for f in _goldens(p).iterdir()) == ADD_FILES
