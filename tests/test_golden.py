"""Golden building blocks: normalization, safe paths, the file format, summaries, FileCheck,
unused-file judgement. The pytest integration is in test_golden_plugin.py."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from checker import expect
from checker.golden import paths, store, summary
from checker.golden.normalize import normalize
from checker.golden.unused import Manifest, find_unused, prune

GENERATED = """\
from __future__ import annotations

import triton
import triton.language as tl

@triton.jit
def _helion_add(x, y, out, _BLOCK_SIZE_0: tl.constexpr):
    # src[add.py:21]: for tile in hl.tile(x.size()):
    pid_0 = tl.program_id(0)
    # src[add.py:22-24]: out[tile] = x[tile] + y[tile]
    load = tl.load(x + pid_0, None)
    tl.store(out + pid_0, load, None)

def add(x, y, *, _launcher=_default_launcher):
    out = torch.empty([64], dtype=torch.float32, device='cuda:0')
    # see /home/ci/work/kernels/add.py:88 and /tmp/tmpa1b2c3/kcheck_gen_0123456789abcdef.py
    _launcher(_helion_add, (64 // 8,), x, y, out, num_warps=4)
    return out
"""


def test_normalize_removes_what_varies_between_machines() -> None:
    moved = (
        GENERATED.replace("add.py:21", "add.py:40")
        .replace("add.py:22-24", "add.py:41-43")
        .replace("/home/ci/work/", "/Users/me/src/")
        .replace("/tmp/tmpa1b2c3/", "/var/folders/x9/T/tmpzz/")
        .replace("kcheck_gen_0123456789abcdef", "kcheck_gen_fedcba9876543210")
        .replace("device='cuda:0'", "device=device(type='cuda', index=1)")
        .replace("\n", "\r\n")
        .replace("num_warps=4)", "num_warps=4)   ")
    )
    assert moved != GENERATED
    assert normalize(moved) == normalize(GENERATED)
    text = normalize(GENERATED)
    assert "# src[add.py:N]: for tile in hl.tile(x.size()):" in text
    assert "# src[add.py:N-N]: out[tile] = x[tile] + y[tile]" in text
    assert "<path>/add.py:N" in text and "kcheck_gen_HASH" in text and "device=DEVICE" in text
    # arithmetic is not a path: floor division and plain division survive
    assert "(64 // 8,)" in text


def test_normalize_keeps_real_code_changes_and_is_idempotent() -> None:
    changed = GENERATED.replace("num_warps=4", "num_warps=8")
    assert normalize(changed) != normalize(GENERATED)
    once = normalize(GENERATED)
    assert normalize(once) == once
    assert once.endswith("\n") and not once.endswith("\n\n")
    assert normalize("") == ""
    assert normalize("a = tl._experimental_make_tensor_descriptor(x)") == "a = tl.make_tensor_descriptor(x)\n"


@pytest.mark.parametrize(
    "param",
    [
        "../../x",
        "/etc/passwd",
        "a/../../b",
        "x" * 300,
        "nul\x00byte",
        "..",
        ".",
        "",
        "CON",
        "aux.default",
        "ümlaut",
        "\ud800lone-surrogate",
    ],
)
def test_hostile_ids_map_to_confined_paths(tmp_path: Path, param: str) -> None:
    root = tmp_path / "golden"
    path = paths.golden_path(root, "cpu-sm_90", "add", param)
    assert path.resolve().is_relative_to(root.resolve())
    assert path.parent == root.resolve() / "cpu-sm_90" / "add"
    assert "\x00" not in str(path) and "/" not in path.name
    assert len(path.name) <= 100
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ok")  # the file system accepts the name


def test_ids_differing_only_by_case_or_replaced_characters_stay_apart() -> None:
    ids = ["Default", "default", "DEFAULT", "a/b", "a_b", "a\\b", "a b", "../x", "..x", "x" * 300, "x" * 301]
    names = [paths.safe_component(i) for i in ids]
    assert len(set(names)) == len(ids)
    # and stay apart on a case-insensitive file system
    assert len({n.lower() for n in names}) == len(ids)
    assert paths.safe_component("4096x2048-bf16-default") == "4096x2048-bf16-default"


def test_kernel_and_target_components_are_sanitized_too(tmp_path: Path) -> None:
    path = paths.golden_path(tmp_path, "../../etc", "../x", "p")
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert ".." not in path.relative_to(tmp_path.resolve()).parts


def _header(**kw: object) -> store.GoldenHeader:
    base: dict = {
        "case": "add[64x96-fp32-default]",
        "target": "cpu-sm_90",
        "toolchain": {"helion": "1.4.0", "triton": "3.6.0", "torch": "2.13.0+cpu"},
        "config": "helion.Config(block_sizes=[8, 16], num_warps=2)",
    }
    base.update(kw)
    return store.GoldenHeader(**base)


@pytest.mark.parametrize(
    "body",
    [
        normalize(GENERATED),
        store.END_MARKER + "\n" + store.VERSION_LINE + "\n# case: fake\n",
        f"x = 1\n{store.END_MARKER}\n{store.END_MARKER}\n",
        "no trailing newline",
        "",
        "tabs\tand\r\ncarriage returns and \x00 NUL and unicode \u2603\n",
    ],
)
def test_file_roundtrips_byte_for_byte(tmp_path: Path, body: str) -> None:
    path = tmp_path / "g" / "x.triton"
    text = store.render(_header(), body)
    store.write(path, text)
    assert path.read_bytes() == text.encode("utf-8")
    back = store.read_text(path)
    assert back == text
    header, parsed = store.parse(back, str(path))
    assert header == _header() and parsed == body


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("print('hello')\n", "not a kcheck golden file"),
        ("# kcheck golden v9\n", "unsupported golden format"),
        (store.VERSION_LINE + "\n# case: x\n", "no end marker"),
        (
            store.VERSION_LINE + "\n# case: x\n" + store.END_MARKER + "\n",
            "header lacks target, toolchain, config",
        ),
        (store.VERSION_LINE + "\nbogus\n" + store.END_MARKER + "\n", "malformed header line"),
    ],
)
def test_malformed_files_are_named_errors(text: str, error: str) -> None:
    with pytest.raises(store.GoldenFormatError, match=error) as info:
        store.parse(text, "golden/cpu-sm_90/add/x.triton")
    assert "golden/cpu-sm_90/add/x.triton" in str(info.value)


def test_non_utf8_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.triton"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(store.GoldenFormatError, match="not UTF-8"):
        store.read_text(path)
    assert store.read_text(tmp_path / "missing.triton") is None


def test_staleness_compares_releases_not_build_labels() -> None:
    old = {"helion": "1.4.0", "triton": "3.6.0", "torch": "2.13.0+cpu"}
    assert store.stale_tools(old, {**old, "torch": "2.13.0+cu128"}) == {}
    assert store.stale_tools(old, {**old, "triton": "3.7.0"}) == {"triton": ("3.6.0", "3.7.0")}


def test_concurrent_writers_of_one_file_leave_one_whole_version(tmp_path: Path) -> None:
    path = tmp_path / "g" / "x.triton"
    texts = [store.render(_header(), f"body {i}\n" * 2000) for i in range(8)]
    threads = [threading.Thread(target=store.write, args=(path, t)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert path.read_text() in texts
    assert os.listdir(path.parent) == ["x.triton"]  # no temp file left behind


TMA = """\
@triton.jit
def _helion_mm(a, b, out):
    a_desc = tl.make_tensor_descriptor(a, [64, 64], [64, 1], [16, 16])
    for k in tl.range(0, 64, 16):
        x = a_desc.load([0, k])
        acc = tl.dot(x, x)
    tl.store(out, acc)
    # tl.dot(in, a, comment) must not count
"""


def test_structure_counts_calls_loops_and_descriptor_accesses() -> None:
    counts = summary.structure(TMA)
    assert counts["tl.dot"] == 1 and counts["tl.store"] == 1 and counts["loops"] == 1
    assert counts["tl.make_tensor_descriptor"] == 1 and counts["desc.load"] == 1
    assert counts["kernels"] == 1 and "tl.load" not in counts


def test_summary_says_what_changed_first() -> None:
    after = TMA.replace("acc = tl.dot(x, x)", "acc = tl.dot(x, x)\n        acc = tl.dot(acc, x)")
    changes = summary.changed_counts(TMA, after)
    assert changes == {"tl.dot": (1, 2), "lines": (8, 9)}
    assert summary.summary_line(changes) == "tl.dot 1 -> 2, lines 8 -> 9"
    assert summary.summary_line({}).startswith("no structural change")
    # code that does not parse still gets counted
    assert summary.structure("tl.load(x\n")["tl.load"] == 1


def test_diff_is_capped_and_says_how_much_was_cut() -> None:
    before = "".join(f"line {i}\n" for i in range(2000))
    after = "".join(f"line {i} changed\n" for i in range(2000))
    text, total = summary.unified_diff(before, after, "golden", "generated")
    assert total > summary.DIFF_MAX_LINES
    assert text.count("\n") <= summary.DIFF_MAX_LINES + 1
    assert text.endswith(f"of {total} lines left out\n")
    small, n = summary.unified_diff("a\nb\n", "a\nc\n", "golden", "generated")
    assert n == 6 and "-b\n+c\n" in small and "left out" not in small


def test_filecheck_expectations_pass_fail_and_explain() -> None:
    assert expect.run_checks("CHECK: tl.make_tensor_descriptor\nCHECK: tl.dot", TMA, "c", "code") is None
    problem = expect.run_checks("CHECK: tl.atomic_add", TMA, "mm.expectations[split_k]", "mm[1-fp32-x]")
    assert problem is not None
    assert "mm.expectations[split_k]" in problem and "tl.atomic_add" in problem and "\x1b" not in problem
    assert expect.run_checks("CHECK-NOT: tl.atomic_add", TMA, "c", "code") is None
    assert expect.run_checks("CHECK-COUNT-3: tl.dot", TMA, "c", "code") is not None


@pytest.mark.parametrize(
    ("checks", "error"),
    [
        ("", "no CHECK directive"),
        ("tl.dot", "no CHECK directive"),
        ("CHECK: tl.dot\nCHECK-NXT: tl.store", "line 2 is not a FileCheck directive"),
        ("CHECK: {{unclosed", "line 1"),
    ],
)
def test_malformed_expectations_are_rejected(checks: str, error: str) -> None:
    with pytest.raises(expect.ExpectationError, match=error):
        expect.validate_checks(checks, "expectations['x']")


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_unused_judges_only_complete_kernels_unless_full_scan(tmp_path: Path) -> None:
    root = tmp_path / "golden"
    _tree(
        root,
        [
            "cpu-sm_90/add/a.triton",
            "cpu-sm_90/add/old.triton",
            "cpu-sm_90/add/.a.triton.x1.tmp",
            "cpu-sm_90/mul/m.triton",
            "cpu-sm_90/mul/gone.triton",
            "cpu-sm_90/deleted_kernel/z.triton",
            "sm_90/add/other-target.triton",
        ],
    )
    tracked = {"add": ["a.triton"], "mul": ["m.triton"]}
    partial = Manifest("cpu-sm_90", tracked, complete=["add"], known=["add", "mul"], full_scan=False)
    found = [p.relative_to(root.resolve()).as_posix() for p in find_unused(root, partial)]
    assert found == ["cpu-sm_90/add/.a.triton.x1.tmp", "cpu-sm_90/add/old.triton"]
    full = Manifest("cpu-sm_90", tracked, complete=["add", "mul"], known=["add", "mul"], full_scan=True)
    unused = find_unused(root, full)
    found = [p.relative_to(root.resolve()).as_posix() for p in unused]
    assert found == [
        "cpu-sm_90/add/.a.triton.x1.tmp",
        "cpu-sm_90/add/old.triton",
        "cpu-sm_90/deleted_kernel/z.triton",
        "cpu-sm_90/mul/gone.triton",
    ]
    assert Manifest.from_json(full.to_json()) == full
    prune(unused, root)
    assert not (root / "cpu-sm_90" / "deleted_kernel").exists()
    assert (root / "cpu-sm_90" / "add" / "a.triton").exists()
    assert (root / "sm_90" / "add" / "other-target.triton").exists()
    assert find_unused(root, full) == []


def test_prune_refuses_files_outside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "keep.txt"
    outside.write_text("x")
    with pytest.raises(ValueError, match="outside"):
        prune([outside], tmp_path / "golden")
    assert outside.exists()
