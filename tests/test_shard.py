"""Sharding (``--shard I/N``): unit tests of the split, and pytester runs through the plugin."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from checker import cli
from checker.results.jsonl import read_records
from checker.shard import Shard, parse_shard, read_durations, split


@dataclass(frozen=True)
class _Item:
    nodeid: str


def test_parse_shard() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    assert str(Shard(3, 8)) == "3/8"
    for bad, why in [
        ("x", "expected I/N"),
        ("2", "expected I/N"),
        ("-1/4", "expected I/N"),
        ("0/4", "between 1 and 4"),
        ("5/4", "between 1 and 4"),
        ("1/0", "count must be >= 1"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_shard(bad)


def test_split_is_a_partition_balanced_and_deterministic() -> None:
    rng = random.Random(7)
    for trial in range(200):
        items = [_Item(f"k{trial}.py::case[{i}]") for i in range(rng.randrange(0, 60))]
        known = rng.sample(items, k=len(items) // 2)
        durations = {it.nodeid: rng.choice([0.01, 0.5, 3.0, 40.0]) for it in known}
        count = rng.randrange(1, 9)
        groups = split(items, count, durations)
        assert len(groups) == count
        flat = [it for g in groups for it in g]
        assert sorted(flat, key=lambda it: it.nodeid) == sorted(items, key=lambda it: it.nodeid)
        assert len(flat) == len(set(flat)), "an item landed in two shards"
        for g in groups:
            # each shard keeps collection order, so xdist and reports see a familiar sequence
            assert g == [it for it in items if it in g]
        assert split(items, count, dict(durations)) == groups
        # Greedy longest-first: no shard exceeds the lightest by more than one item's weight.
        mean = sum(durations.values()) / len(durations) if durations else 1.0
        weight = {it: durations.get(it.nodeid, mean) for it in items}
        totals = [sum(weight[it] for it in g) for g in groups]
        if items:
            assert max(totals) - min(totals) <= max(weight.values()) + 1e-9


def test_split_without_durations_deals_in_turn() -> None:
    items = [_Item(f"t.py::test[{i:02d}]") for i in range(10)]
    groups = split(items, 3, {})
    assert [len(g) for g in groups] == [4, 3, 3]


def test_split_uses_durations() -> None:
    items = [_Item(f"t.py::test[{i}]") for i in range(6)]
    durations = {"t.py::test[3]": 10.0, **{f"t.py::test[{i}]": 2.0 for i in (0, 1, 2, 4, 5)}}
    groups = split(items, 2, durations)
    heavy = next(g for g in groups if _Item("t.py::test[3]") in g)
    assert heavy == [_Item("t.py::test[3]")]


def test_read_durations(tmp_path: Path) -> None:
    shard1 = tmp_path / "kcheck-shard-1" / "results.jsonl"
    shard2 = tmp_path / "kcheck-shard-2" / "results.jsonl"
    shard1.parent.mkdir()
    shard2.parent.mkdir()
    shard1.write_text(
        json.dumps({"nodeid": "a.py::x", "duration_s": 1.5})
        + "\n\n"
        + json.dumps({"nodeid": "a.py::dead", "duration_s": 0.0})
        + "\n"
        + json.dumps({"nodeid": None, "duration_s": 3})
        + "\n"
    )
    shard2.write_text(json.dumps({"nodeid": "a.py::y", "duration_s": 2}) + "\n")
    assert read_durations([tmp_path]) == {"a.py::x": 1.5, "a.py::y": 2.0}
    assert read_durations([shard2]) == {"a.py::y": 2.0}
    shard2.write_text('{"nodeid": "a.py::y"\n')
    with pytest.raises(ValueError, match=r"results.jsonl:1: not JSON"):
        read_durations([shard2])
    with pytest.raises(FileNotFoundError, match="nope"):
        read_durations([tmp_path / "nope"])


TESTS = "import pytest\n\n@pytest.mark.parametrize('i', range(23))\ndef test_p(i):\n    pass\n"


def _collected(p: pytest.Pytester, *args: str) -> list[str]:
    result = p.runpytest("--collect-only", "-q", "-p", "no:xdist", *args)
    # An empty shard (more shards than cases) collects nothing: pytest's exit status 5.
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()
    return [line for line in result.stdout.lines if "::" in line]


def test_shards_union_is_the_full_set(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=TESTS, test_b="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    full = _collected(pytester)
    assert len(full) == 25
    for n in (1, 2, 4, 7, 30):
        shards = [_collected(pytester, "--shard", f"{i}/{n}") for i in range(1, n + 1)]
        flat = [nodeid for s in shards for nodeid in s]
        assert sorted(flat) == sorted(full), f"{n} shards"
        assert len(flat) == len(set(flat))
        assert _collected(pytester, "--shard", f"1/{n}") == shards[0], "not deterministic"


def test_shard_balances_by_recorded_durations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=TESTS)
    full = _collected(pytester)
    slow = "test_a.py::test_p[5]"
    results = pytester.path / "baseline" / "results.jsonl"
    results.parent.mkdir()
    results.write_text(
        "".join(json.dumps({"nodeid": n, "duration_s": 30.0 if n == slow else 1.0}) + "\n" for n in full)
    )
    shards = [_collected(pytester, "--shard", f"{i}/2", "--shard-durations", str(results)) for i in (1, 2)]
    # The slow case weighs as much as 30 others: it gets a shard of its own, the rest the other.
    assert sorted(map(len, shards)) == [1, 22]
    assert [slow] in shards
    # A directory of shard results works the same as naming the file.
    by_dir = _collected(pytester, "--shard", "1/2", "--shard-durations", str(results.parent))
    assert by_dir == shards[0]
    result = pytester.runpytest("--shard", "2/2", "--shard-durations", str(results), "-p", "no:xdist")
    result.stdout.fnmatch_lines(["kcheck shard 2/2 (durations known for 23 node ids)"])


def test_shard_after_k_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=TESTS)
    picked = _collected(pytester, "-k", "test_p[1")  # 1 and 10..19
    shards = [_collected(pytester, "-k", "test_p[1", "--shard", f"{i}/2") for i in (1, 2)]
    assert sorted(shards[0] + shards[1]) == sorted(picked)
    assert sorted(map(len, shards)) == [5, 6]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "5/4"], "--shard: the shard index must be between 1 and 4, got '5/4'"),
        (["--shard", "x"], "--shard: expected I/N such as 2/4, got 'x'"),
        (["--shard", "1/0"], "--shard: the shard count must be >= 1, got '1/0'"),
        (["--shard-durations", "r.jsonl"], "--shard-durations needs --shard I/N"),
        (["--shard", "1/2", "--shard-durations", "missing.jsonl"], "--shard-durations: no such file*"),
    ],
)
def test_bad_shard_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_a=TESTS)
    result = pytester.runpytest(*args, "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_shards_under_xdist_run_exactly_their_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=TESTS)
    expected = _collected(pytester, "--shard", "2/3")
    result = pytester.runpytest("--shard", "2/3", "-n", "2", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=len(expected))
    ran = sorted(line.split()[1] for line in result.stdout.lines if line.startswith("PASSED "))
    assert ran == sorted(expected)


def test_kernel_shards_records_make_up_the_full_run(kernel_dir: pytest.Pytester) -> None:
    # The split of real kernel records is the point: the cases run in the pytest process (no
    # case or compile worker to start in each of the 5 runs).
    args = ["--configs", "1", "--shapes", "small", "-p", "no:xdist", "--isolate", "off", "--compile", "off"]
    kernel_dir.runpytest(*args, "--reports-dir", "full").assert_outcomes(passed=6)
    full = {r.nodeid for r in read_records(kernel_dir.path / "full" / "results.jsonl")}
    assert len(full) == 6
    merged: list[str | None] = []
    for i in (1, 2, 3, 4):
        kernel_dir.runpytest(*args, "--shard", f"{i}/4", "--reports-dir", f"shard{i}")
        path = kernel_dir.path / f"shard{i}" / "results.jsonl"
        merged += [r.nodeid for r in read_records(path)] if path.exists() else []
    assert sorted(n or "" for n in merged) == sorted(full)
    # kcheck report merges the shard directories back into the full run.
    shard_dirs = [
        str(kernel_dir.path / f"shard{i}") for i in (1, 2, 3, 4) if (kernel_dir.path / f"shard{i}").exists()
    ]
    assert cli.main(["report", *shard_dirs, "--out", str(kernel_dir.path / "merged"), "--quiet"]) == 0
    assert sorted(
        r.nodeid or "" for r in read_records(kernel_dir.path / "merged" / "results.jsonl")
    ) == sorted(full)
    # Balanced by the full run's durations, the four shards still cover it exactly once.
    durations = str(kernel_dir.path / "full" / "results.jsonl")
    sizes = [
        len(_collected(kernel_dir, *args[:-2], "--shard", f"{i}/4", "--shard-durations", durations))
        for i in (1, 2, 3, 4)
    ]
    assert sum(sizes) == 6
