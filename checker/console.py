"""Rich text for terminals and CI logs: the width to render at, rendering a renderable to plain
(or colored) text safe for a GitHub Actions log, and the block one failure group is shown as.
Shared by the run's summary (checker/report/terminal.py) and the triage view
(checker/triage/render.py).

Record text (kernel names, messages, repro commands) is handed to rich as ``Text``, never parsed
as markup, and every rendered string goes through :func:`checker.escape.for_log`.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence

from rich.console import Console, RenderableType
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


def to_text(renderable: RenderableType, width: int | None = None, color: bool = False) -> str:
    """``renderable`` rendered at ``width`` (None: :func:`terminal_width`), plain unless
    ``color``, escaped for the log in GitHub Actions (:func:`checker.escape.for_log`)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or terminal_width(),
        force_terminal=color,
        color_system="standard" if color else None,
        # Only code decides highlighting: record text never gets styled by guessing.
        highlight=False,
    )
    console.print(renderable)
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
    repro: str | None = None,
) -> Table:
    """One failure group: ``index. title xCOUNT tag``, its headline, ``details`` (label,
    value), up to :data:`MAX_EXAMPLES` of the distinct ``examples`` (and how many more), the
    first one's repro. Text wraps inside the block's indented column."""
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
    if repro:
        grid.add_row("", Text("repro: ", style="dim").append(repro))
    return grid
