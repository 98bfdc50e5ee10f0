"""Help text of the ``kcheck`` commands: plain text from docstrings, examples, ``--version``.

Each command's description is a paragraph of its module's docstring (:func:`paragraph`), with
the docstring's reStructuredText markup (````x````, ``:func:`x```, ```x```) taken out: help is
read on a terminal. :class:`Formatter` fills prose paragraphs to the terminal's width and keeps
indented lines (the examples of an epilog, :func:`examples`) as written, one command a line.
"""

from __future__ import annotations

import argparse
import re
from importlib import metadata
from typing import Any

from checker import toolchain

#: ``:role:`text``` (Sphinx roles), ````text```` (literals) and ```text``` (default role).
_ROLE = re.compile(r":[\w:.-]+:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")
_DEFAULT_ROLE = re.compile(r"`([^`]*)`")


def plain(text: str) -> str:
    """``text`` without reStructuredText inline markup: ````kcheck run```` and
    ``:func:`merge``` read ``kcheck run`` and ``merge``."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    return _DEFAULT_ROLE.sub(r"\1", text)


def paragraph(doc: str | None, index: int) -> str | None:
    """Paragraph ``index`` (0-based, paragraphs split by blank lines) of the docstring ``doc``
    as one plain line, or None when ``doc`` is None (python -OO) or has fewer paragraphs."""
    if doc is None:
        return None
    parts = [p for p in re.split(r"\n\s*\n", doc.strip()) if p.strip()]
    if index >= len(parts):
        return None
    return plain(" ".join(parts[index].split()))


def examples(*lines: str) -> str:
    """An epilog listing example command lines, one a line (each ``"command  # what it does"``
    or a command alone); :class:`Formatter` never wraps them."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


class Formatter(argparse.HelpFormatter):
    """argparse's formatter, except that description and epilog keep their indented lines
    (examples) unwrapped; other lines are filled as argparse fills them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        prose: list[str] = []
        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                if prose:
                    out.append(super()._fill_text(" ".join(prose), width, indent))
                    prose = []
                out.append(indent + line)
            else:
                prose.append(line)
        if prose:
            out.append(super()._fill_text(" ".join(prose), width, indent))
        return "\n".join(out)


class Parser(argparse.ArgumentParser):
    """The parser of ``kcheck`` and each subcommand: :class:`Formatter`, and a description
    without markup (:func:`plain`) whichever docstring it came from."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        if kwargs.get("description"):
            kwargs["description"] = plain(kwargs["description"])
        super().__init__(*args, **kwargs)


def version() -> str:
    """What ``kcheck --version`` prints: kcheck's version and the toolchain's (``-`` for a
    package that is not installed)."""
    try:
        own = metadata.version("kcheck")
    except metadata.PackageNotFoundError:
        own = "(source tree, not installed)"
    tools = ", ".join(f"{name} {v}" for name, v in toolchain.versions().items())
    return f"kcheck {own} ({tools})"
