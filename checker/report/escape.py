"""Escaping untrusted text (kernel names, messages, diffs) for each place a report puts it.

Every writer that shows text it did not author goes through one of these functions:

- XML (junit.xml): :func:`xml_text` keeps only characters XML 1.0 allows.
- Markdown (the PR comment, the step summary): untrusted text is only ever shown as code, where
  GitHub renders no @mention, link, HTML or emphasis: :func:`md_code` (inline, also inside table
  cells), :func:`md_block` (fenced), :func:`html_code` (inside raw HTML such as ``<summary>``).
- GitHub Actions workflow commands (``::error ...::``): :func:`command_data` and
  :func:`command_property` apply the runner's percent-escapes (documented in "Workflow commands
  for GitHub Actions": ``%``, CR, LF in data; additionally ``:`` and ``,`` in properties).
"""

from __future__ import annotations

import html
import re

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
