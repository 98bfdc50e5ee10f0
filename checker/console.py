"""Rich text for terminals and CI logs: the width to render at, rendering a renderable to plain
(or colored) text safe for a GitHub Actions log, and the block one failure group is shown as.
Shared by the run's summary (checker/report/terminal.py) and the triage view
(checker/triage/render.py).

Record text (kernel names, messages, repro commands) is handed to rich as ``Text``, never parsed
as markup, and every rendered string goes through :func:`checker.escape.for_log`.

Commands are :class:`Whole` lines: printed on one line whatever the width (soft wrap is the
terminal's), never folded by rich, so that a pasted command is the command and a CI log at 80
columns never splits a token (docs/triage.md).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator, Sequence

from rich.console import Console, RenderableType
from rich.console import Group as Group_
from rich.table import Table
from rich.text import Text

from checker.escape import for_log

#: Example cases named per group.
MAX_EXAMPLES = 3
#: Width when neither a terminal nor $COLUMNS says (a CI log).
DEFAULT_WIDTH = 80


def terminal_width() -> int:
    """Columns of the terminal, else ``$COLUMNS``, else :data:`DEFAULT_WIDTH`."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns or DEFAULT_WIDTH


class Whole(Text):
    """A line :func:`to_text` prints whole: never wrapped, folded or cut at the width (a command
    to paste). Anywhere else (inside a table) rich renders it as plain ``Text``."""


def _parts(renderable: RenderableType) -> Iterator[RenderableType]:
    """``renderable`` with its (nested) groups opened, so that :class:`Whole` lines are seen."""
    if isinstance(renderable, Group_):
        for part in renderable.renderables:
            yield from _parts(part)
    else:
        yield renderable


def to_text(renderable: RenderableType, width: int | None = None, color: bool = False) -> str:
    """``renderable`` rendered at ``width`` (None: :func:`terminal_width`), plain unless
    ``color``, escaped for the log in GitHub Actions (:func:`checker.escape.for_log`). A
    :class:`Whole` line (also inside groups) is printed on one line, however long."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or terminal_width(),
        force_terminal=color,
        color_system="standard" if color else None,
        # Only code decides highlighting: record text never gets styled by guessing.
        highlight=False,
    )
    for part in _parts(renderable):
        # soft_wrap: no wrapping and no cropping; the line is as long as its text.
        console.print(part, soft_wrap=isinstance(part, Whole))
    text = buf.getvalue()
    if not color:
        # rich pads table cells to the full width: trailing blanks only lengthen a log.
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return for_log(text)


def group_block(
    index: int,
    title: str,
    count: int,
    head: str,
    examples: Sequence[str],
    *,
    tag: str = "",
    style: str | None = None,
    details: Sequence[tuple[str, str]] = (),
    code: Sequence[str] = (),
    next_step: str = "",
    commands: Sequence[tuple[str, str]] = (),
) -> Group_:
    """One failure group: ``index. title xCOUNT tag``, its headline, ``details`` (label,
    value), up to :data:`MAX_EXAMPLES` of the distinct ``examples`` (and how many more), then
    ``code`` lines (a diff's first lines: each on one line, cut at the width), ``next_step``
    (what to do next) and ``commands`` (label, command): each printed whole on one line
    (:class:`Whole`), never wrapped. Other text wraps inside the block's indented column."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold", ratio=1)
    top = Text()
    top.append(title, style=style)
    top.append(f" x{count}", style="bold")
    if tag:
        top.append(f"  {tag}", style="dim")
    grid.add_row(f"{index}.", top)
    grid.add_row("", Text(head))
    for label, value in details:
        line = Text(f"{label}: ", style="dim")
        line.append(value)
        grid.add_row("", line)
    names = list(dict.fromkeys(examples))
    for i, name in enumerate(names[:MAX_EXAMPLES]):
        grid.add_row("", Text("e.g. " if i == 0 else "     ").append(name))
    if len(names) > MAX_EXAMPLES:
        grid.add_row("", Text(f"     ... and {len(names) - MAX_EXAMPLES} more", style="dim"))
    for code_line in code:
        grid.add_row("", Text(code_line, no_wrap=True, overflow="ellipsis"))
    if next_step:
        grid.add_row("", Text("next: ", style="dim").append(next_step))
    # The grid's second column starts after the index column and one space of padding.
    indent = " " * (len(f"{index}.") + 1)
    lines = [Whole(indent).append(f"{label}: ", style="dim").append(command) for label, command in commands]
    return Group_(grid, *lines)
