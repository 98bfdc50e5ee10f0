"""The run options table (checker/options.py): the one source of the pytest options,
``kcheck run``'s arguments, the repro command's arguments and the options records store."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from checker import choices, options, rerun
from checker.cli import build_parser, main
from checker.model import Record
from checker.options import Cli, Rerun, RunOption, Values
from checker.results.jsonl import read_records
from checker.results.validate import parse_record
from checker.triage.locate import ReproError, recorded_options

README = Path(__file__).resolve().parents[1] / "README.md"


def _other_value(opt: RunOption) -> Any:
    """A valid value of ``opt`` other than its default, for any option the table may hold."""
    if opt.repeatable:
        return ["/suite/a b.py", "/suite/c.py"]
    if opt.is_flag:
        return True
    allowed = opt.allowed
    if allowed is not None:
        return next(v for v in allowed if v != options._token(opt.default))
    if opt.type is int:
        return (opt.default or 0) + 3
    if opt.type is float:
        return (opt.default or 1.0) + 1.5
    return "/some dir/with 'quotes'"


def _cli_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    return capsys.readouterr().out


def _flat(text: str) -> str:
    """Help text with argparse's line wrapping undone (it may also break after a hyphen)."""
    return re.sub(r"\s+", "", text)


def test_every_option_is_in_pytest_help_and_kcheck_run_help(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest_help = _flat(pytester.runpytest("--help").stdout.str())
    cli_help = _flat(_cli_help(capsys))
    for opt in options.OPTIONS:
        assert opt.flag in pytest_help, opt.name
        shown = opt.flag if opt.cli is Cli.OPTION else str(opt.metavar)
        assert shown in cli_help, opt.name
        # The same help and default in both, shown once.
        text = _flat(opt.help_text().replace("%%", "%"))
        assert text in pytest_help and text in cli_help, opt.name
        assert pytest_help.count(text) == 1 and text.count("(default:") <= 1


def test_help_has_no_markup() -> None:
    for opt in options.OPTIONS:
        assert not re.search(r"``|:\w+:`", opt.help_text()), opt.name


@pytest.mark.parametrize("opt", options.OPTIONS, ids=lambda o: o.name)
def test_a_changed_option_round_trips_through_the_repro_command(opt: RunOption) -> None:
    """options -> repro command -> parsed back through the table: the same options."""
    values = options.defaults().replace(**{opt.dest: _other_value(opt)})
    rerun = options.for_rerun(values)
    if opt.rerun is Rerun.NEVER:
        assert rerun[opt.dest] == options.defaults()[opt.dest]
    else:
        assert rerun[opt.dest] == values[opt.dest]
    command = shlex.join(["python", "-m", "pytest", "x.py::c", *options.command_args(rerun)])
    assert options.from_command(command) == rerun
    assert options.from_json(rerun.to_json()) == rerun


def test_every_option_changed_at_once_round_trips(tmp_path: Path) -> None:
    changed = {o.dest: _other_value(o) for o in options.OPTIONS}
    values = options.for_rerun(options.defaults().replace(**changed))
    command = rerun.repro_command(tmp_path / "add.py", "add[8x16-fp32-cfg0]", values, ["--update-golden"])
    # The repro command's own reports directory is carried too: it passes every stored option,
    # and the extra --update-golden (a table option itself) is read back as given.
    assert options.from_command(command) == values.replace(update_golden=True)
    # What kcheck run hands pytest is read by the options pytest declares, every token of it,
    # and gives the same values back.
    parser = argparse.ArgumentParser(exit_on_error=False)
    options.add_pytest_options(_Group(parser))
    forwarded = options.pytest_args(options.defaults().replace(**changed))
    parsed = parser.parse_args(forwarded)
    assert options.values_from(parsed) == options.defaults().replace(**changed)
    assert options.from_command(shlex.join(forwarded)) == options.defaults().replace(**changed)


class _Group:
    """pytest's option group as far as add_pytest_options uses it, over a plain argparse parser."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.parser.add_argument(*names, **kwargs)


def test_the_repro_command_keeps_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records keep their repro commands (and golden signatures, which hash the accept command)."""
    monkeypatch.setattr(rerun, "plugin_installed", True)
    values = options.defaults().replace(
        kernels=["/k/add.py"],
        device="cpu",
        compile="check",
        compile_timeout=30.0,
        no_cache=True,
        reports_dir="kcheck-repro/add",
    )
    argv = shlex.split(rerun.repro_command(Path("/k/add.py"), "add[1-fp32-x]", values, ["--update-golden"]))
    start = argv.index("/k/add.py::add[1-fp32-x]") + 1
    assert argv[start:] == [
        *("--kernels", "/k/add.py", "--sweep-seed", "0", "--configs", "8", "--device", "cpu"),
        *("--compile", "check", "--compile-timeout", "30", "--no-cache", "--update-golden"),
        *("--reports-dir", "kcheck-repro/add", "-p", "no:xdist", "-p", "no:cacheprovider"),
    ]


def test_closed_choices_are_enums() -> None:
    for name in ("compile", "device", "isolate", "shapes"):
        opt = options.option(name)
        assert issubclass(opt.type, enum.Enum), name
        assert isinstance(options.defaults()[name], opt.type)
    assert options.option("target").allowed == ("sm_100", "sm_80", "sm_90")


def test_bad_stored_values_are_refused() -> None:
    for data, message in (
        ({"sweep_seed": "x"}, "--sweep-seed: 'x' is not an integer"),
        ({"compile": "fast"}, "--compile: 'fast' is not one of auto, off, check, full"),
        ({"configs": -1}, "--configs must be >= 0, got -1"),
        ({"kernels": "/a.py"}, "--kernels: '/a.py' is not a list of strings"),
        ({"no_cache": "yes"}, "--no-cache: 'yes' is not true or false"),
        ([], "stored options are [], not an object"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            options.from_json(data)
    # A key a newer kcheck wrote is no error; a missing one has its default.
    assert options.from_json({"sweep_seed": 4, "newer": 1}) == options.defaults().replace(sweep_seed=4)


def _record(**kw: Any) -> Record:
    data = next(iter(read_records(Path(__file__).parent / "data" / "results_cpu.jsonl")))
    return dataclasses.replace(data, **kw)


def test_readers_take_stored_options_and_read_old_records_by_their_command() -> None:
    stored = options.defaults().replace(sweep_seed=7, kernels=["/s/add.py"], compile="full")
    new = _record(options=stored.to_json(), repro="python -m pytest x --sweep-seed 99")
    assert recorded_options(new) == stored, "the stored options win over the command"
    old = _record(
        options=None, repro="python -m pytest 'x::c' --kernels /s/add.py --sweep-seed 7 --compile full"
    )
    assert recorded_options(old) == stored
    assert options.of_record(_record(options=None, repro=None)) is None
    assert recorded_options(_record(options=None, repro=None)) == options.defaults()
    with pytest.raises(ReproError, match="its record's options cannot be read: --compile"):
        recorded_options(_record(options={"compile": 3}))
    # Stored options survive the untrusted reader of results.jsonl.
    assert parse_record(new.to_json()).options == stored.to_json()
    forged = json.loads(new.to_json())
    forged["options"] = "x"
    with pytest.raises(ValueError, match="'options' is a string"):
        parse_record(json.dumps(forged))


def _fake_table() -> tuple[RunOption, ...]:
    fake = RunOption("fake-knob", int, 3, "a knob only this test has", metavar="K", rerun=Rerun.CHANGED)
    return (*options.OPTIONS, fake)


def test_adding_an_option_to_the_table_is_the_only_edit(
    kernel_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(options, "OPTIONS", _fake_table())
    shown = _flat("--fake-knob=K a knob only this test has (default: 3)")
    assert shown in _flat(kernel_dir.runpytest("--help").stdout.str())
    assert shown.replace("=", "") in _flat(_cli_help(capsys))
    # kcheck run takes it and hands it on to pytest...
    args, _ = build_parser().parse_known_args(["run", "--fake-knob", "5"])
    forwarded = options.pytest_args(options.values_from(args))
    assert forwarded[forwarded.index("--fake-knob") + 1] == "5"
    # ...which runs with it; the record stores it, its repro command carries it.
    result = kernel_dir.runpytest(
        *("--fake-knob", "5", "--isolate", "off", "--compile", "off", "--shapes", "small"),
        *("--configs", "0", "-k", "fp32 and default", "-p", "no:xdist"),
    )
    result.assert_outcomes(passed=1)
    (rec,) = read_records(kernel_dir.path / "reports" / "results.jsonl")
    assert rec.options is not None and rec.options["fake_knob"] == 5
    assert "--fake-knob 5" in (rec.repro or "")
    assert options.of_record(rec) == options.from_command(rec.repro or "")


def test_a_run_stores_the_options_its_repro_command_passes(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest(
        *("--sweep-seed", "3", "--isolate", "off", "--compile", "off", "--shapes", "small", "--configs", "0"),
        *("-k", "fp32 and default", "-p", "no:xdist"),
    )
    result.assert_outcomes(passed=1)
    (rec,) = read_records(kernel_dir.path / "reports" / "results.jsonl")
    stored = options.of_record(rec)
    assert stored is not None and stored == options.from_command(rec.repro or "")
    assert stored["sweep_seed"] == 3 and stored["compile"] is choices.CompilePolicy.OFF
    assert stored["kernels"] == [str((kernel_dir.path / "kernels" / "add.py").resolve())]
    assert stored["no_cache"] is True, "a repro compiles for real"
    # Options a single case's rerun does not carry stay at their defaults.
    assert stored["shapes"] is choices.ShapeSet.ALL


def test_usage_errors_come_from_the_table(
    kernel_dir: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag, value, message in (
        ("--compile-timeout", "0", "--compile-timeout must be > 0, got 0"),
        ("--cache-max-mb", "-1", "--cache-max-mb must be > 0, got -1"),
    ):
        result = kernel_dir.runpytest(flag, value)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{message}*"])
        with pytest.raises(SystemExit) as info:
            main(["run", flag, value])
        assert info.value.code == 2 and message in capsys.readouterr().err


def _readme_options() -> dict[str, str]:
    """The README's options table: flag -> default cell."""
    text = README.read_text()
    table = text[text.index("Options (pytest and `kcheck run` alike):") :]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        m = re.match(r"`(--[a-z-]+)", cells[0])
        if m:
            rows[m.group(1)] = cells[1]
    return rows


def test_the_readme_lists_every_option_with_its_default() -> None:
    rows = _readme_options()
    assert set(rows) == {o.flag for o in options.OPTIONS}
    for opt in options.OPTIONS:
        if opt.is_flag:
            assert rows[opt.flag] == "off", opt.name
        elif opt.default_text is None and opt.default is not None and not opt.repeatable:
            assert rows[opt.flag] == options._token(opt.default), opt.name


def test_values_are_typed_and_immutable() -> None:
    values = options.defaults()
    assert isinstance(values, Values)
    with pytest.raises(TypeError):
        values["configs"] = 2  # type: ignore[index]
    assert values.replace(configs="2")["configs"] == 2
    with pytest.raises(KeyError):
        values.replace(nope=1)
