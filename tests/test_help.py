"""``kcheck --help`` and every subcommand's: plain text, examples, defaults once, --version,
every run option (issue 25 item 7)."""

from __future__ import annotations

import argparse
import re

import pytest

from checker import toolchain
from checker.cli import build_parser, main
from checker.commands.helptext import paragraph, plain


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_is_plain_with_examples_and_defaults_once(
    command: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(capsys, *([command] if command else []))
    assert not re.search(r"``|:\w+:`|`", text), text
    # Every command ends with runnable examples, one command a line, never wrapped.
    examples = text.split("\nexamples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith("  kcheck ") for line in examples if line.strip()), examples
    # One "(default" per argument at most (argparse's ArgumentDefaultsHelpFormatter doubled them).
    for block in re.split(r"\n  (?=-|\w)", text):
        assert len(re.findall(r"\(default", block)) <= 1, block


def test_run_help_lists_the_plugin_options(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "run")
    for flag in ("--update-golden", "--prune", "--golden-warn-unused", "--benchmark", "--benchmark-timeout"):
        assert re.search(rf"^  {flag}\b", text, re.M), flag
    for flag in ("--shard-durations", "--workers-per-gpu", "--benchmark-no-compile"):
        assert flag in text, flag


def test_version_names_kcheck_and_the_toolchain(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("kcheck ")
    for name, version in toolchain.versions().items():
        assert f"{name} {version}" in out


def test_docstring_paragraphs_lose_their_markup() -> None:
    doc = """Title.

    ``kcheck report`` calls :func:`checker.results.merge.merge` and `x`
    over two lines.
    """
    assert paragraph(doc, 1) == "kcheck report calls checker.results.merge.merge and x over two lines."
    assert paragraph(doc, 2) is None and paragraph(None, 0) is None
    assert plain(":class:`A` and ``b``") == "A and b"
