"""Escaping untrusted text (kernel names, messages, diffs) for each place a report puts it.

Every writer that shows text it did not author goes through one of these functions:

- XML (junit.xml): :func:`xml_text` keeps only characters XML 1.0 allows.
- Markdown (the PR comment, the step summary): untrusted text is only ever shown as code, where
  GitHub renders no @mention, link, HTML or emphasis: :func:`md_code` (inline, also inside table
  cells), :func:`md_block` (fenced), :func:`html_code` (inside raw HTML such as ``<summary>``).
- GitHub Actions workflow commands (``::error ...::``): :func:`command_data` and
  :func:`command_property` apply the runner's percent-escapes (documented in "Workflow commands
  for GitHub Actions": ``%``, CR, LF in data; additionally ``:`` and ``,`` in properties).
- Text printed to a GitHub Actions log (terminal views, pytest failure text, error messages):
  :func:`log_text` / :func:`for_log`, so that no line of it is a workflow command (below).

Why escaping lines and not ``::stop-commands::``: the runner (actions/runner,
``ActionCommand.TryParseV2`` / ``TryParse``) treats a line as a command when, after *trimming
leading whitespace*, it starts with ``::``, or when it contains the legacy ``##[`` *anywhere*;
it splits lines at LF, CR and CRLF. A leading space therefore does not disarm a line. A
``::stop-commands::<token>`` window does, but it is state in the runner shared by stdout and
stderr, whose lines the runner may interleave in another order than they were written, and a
window left open by a cut or crashed output swallows every later real command. Escaping each line
is stateless: whatever order, cut or stream the lines end up in, none of them is a command.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Mapping

from checker.diagnostics import sanitize

# Characters XML 1.0 forbids: C0 controls but TAB/LF/CR, lone surrogates, U+FFFE and U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Bidirectional overrides and isolates (the "Trojan Source" characters): shown as escapes so a
# message cannot reorder what a reviewer sees.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_BACKTICKS = re.compile(r"`+")


def clean(text: str, limit: int = 20000) -> str:
    """``text`` with ANSI escapes, control characters, lone surrogates and bidi controls removed
    or made visible, cut in the middle beyond ``limit`` characters."""
    text = sanitize(text, limit=limit)
    text = _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    return _XML_INVALID.sub("\ufffd", text)


def xml_text(text: str, limit: int = 20000) -> str:
    """Text that any XML 1.0 parser accepts once escaped by the writer (ElementTree does the
    ``<``/``&``/``]]>`` escaping; this removes what no escaping can express)."""
    return clean(text, limit)


def _fence_for(text: str, minimum: int) -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    return "`" * max(minimum, longest + 1)


def md_code(text: str, *, in_table: bool = False, limit: int = 300) -> str:
    """``text`` as one inline code span on one line (CommonMark: the span's fence is longer than
    any backtick run inside, padded with spaces when the text starts or ends with a backtick).

    In a table cell, ``|`` is escaped as ``\\|``: GitHub splits cells on pipes even inside code
    spans. Text over ``limit`` characters is cut with an ellipsis.
    """
    text = " ".join(clean(text, limit=10 * limit).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text:
        return ""
    fence = _fence_for(text, 1)
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def md_block(text: str, lang: str = "") -> str:
    """``text`` as a fenced code block whose fence is longer than any backtick run inside."""
    text = clean(text)
    fence = _fence_for(text, 3)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def html_code(text: str, limit: int = 200) -> str:
    """``text`` HTML-escaped inside ``<code>``, for raw-HTML places such as ``<summary>``, where
    markdown code spans do not render. GitHub does not turn @names or URLs inside ``<code>`` into
    mentions or links."""
    text = " ".join(clean(text, limit=10 * limit).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"<code>{html.escape(text, quote=True)}</code>"


def command_data(text: str) -> str:
    """Escape the message part of a workflow command (``%``, CR, LF)."""
    return clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """Escape a workflow command property value (``%``, CR, LF, ``:`` and ``,``)."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


#: Put before a log line that would otherwise start a workflow command. Visible (a reader sees
#: that the line was changed) and not whitespace (the runner trims whitespace before ``::``).
LOG_LINE_MARK = "| "
#: Line ends as the runner splits them (.NET ``StreamReader.ReadLine``): CRLF, CR, LF.
_RUNNER_LINES = re.compile(r"(\r\n|\r|\n)")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _leads_to_command(line: str) -> bool:
    # Stricter than the runner: also skip control and format characters (zero-width spaces,
    # BOM, ANSI ESC), in case a runner version trims more than whitespace.
    i = 0
    while i < len(line) and (line[i].isspace() or unicodedata.category(line[i]) in ("Cc", "Cf")):
        i += 1
    return line.startswith("::", i)


def log_text(text: str) -> str:
    """``text`` with no line that a GitHub Actions runner would run as a workflow command.

    Every line (split at CRLF, CR and LF, as the runner splits them) whose first non-blank
    character starts ``::`` gets :data:`LOG_LINE_MARK` in front; every legacy ``##[`` becomes
    ``##\\[``. Line breaks and all other text are kept. Lone surrogates (a JSON ``"\\ud800"``)
    become U+FFFD so that printing cannot fail on them.
    """
    text = _LONE_SURROGATE.sub("\ufffd", text).replace("##[", "##\\[")
    parts = _RUNNER_LINES.split(text)
    # split() with a group alternates line, separator, line...: only the lines are touched.
    for i in range(0, len(parts), 2):
        if _leads_to_command(parts[i]):
            parts[i] = LOG_LINE_MARK + parts[i]
    return "".join(parts)


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    """True when running as a GitHub Actions step (``GITHUB_ACTIONS`` is ``true``)."""
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def for_log(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` ready to print: :func:`log_text` in GitHub Actions, else unchanged except that
    lone surrogates become U+FFFD (a terminal shows the text as it is)."""
    return log_text(text) if in_actions(env) else _LONE_SURROGATE.sub("\ufffd", text)
