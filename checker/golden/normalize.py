"""Normalization of generated Triton source, applied to both sides of a golden comparison.

What is removed or canonicalized is what changes between machines or runs but not between
code versions (the list is documented in docs/goldens.md):

* line numbers in Helion's source-location comments (``# src[softmax.py:21-26]: ...`` becomes
  ``# src[softmax.py:N-N]: ...``) and in any ``file.py:123`` reference: editing a kernel's
  docstring must not rewrite its goldens; the quoted source text stays, it is what a reviewer
  reads;
* directories of absolute paths (``/home/ci/x/y.py`` becomes ``<path>/y.py``), which covers
  temporary directories such as ``/tmp/tmpa1b2c3``;
* device strings (``device='cuda:0'``, ``device(type='cuda', index=1)``) become ``device=DEVICE``;
* object addresses (``at 0x7f3a...``) and the hash in kcheck's generated module names;
* the experimental spelling of ``tl.make_tensor_descriptor`` that some Triton releases use;
* line endings (CRLF), trailing whitespace and trailing blank lines.

Helion does the same for its own expect files (``helion._testing.AssertExpectedJournal``); this
module holds kcheck's own rules so they can be unit-tested and documented in one place.
"""

from __future__ import annotations

import re

_SRC_COMMENT = re.compile(r"# src\[(?P<file>[^\]:]+):(?P<start>\d+)(?:-(?P<end>\d+))?\]")
_FILE_LINE = re.compile(r"(?P<file>\b[\w.-]+\.py):\d+\b")
# Absolute POSIX paths: a slash right after a quote, blank, bracket, '=' or line start, then at
# least one directory. ``a // b`` and ``x / y`` are not paths (no name right after the slash).
_ABS_PATH = re.compile(r"(?:^|(?<=[\s'\"(\[=,:]))/(?:[\w.+~-]+/)+", re.MULTILINE)
_DEVICE_STR = re.compile(r"device\s*=\s*(?P<q>['\"])[^'\"\n]*(?P=q)")
_DEVICE_OBJ = re.compile(r"device\s*=\s*(?:torch\.)?device\([^)\n]*\)")
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+\b")
_GEN_MODULE = re.compile(r"\bkcheck_gen_[0-9a-f]{8,}\b")
_TENSOR_DESCRIPTOR = re.compile(r"\btl\._experimental_make_tensor_descriptor\b")


def _src_comment(m: re.Match[str]) -> str:
    name = m["file"].rsplit("/", 1)[-1]
    return f"# src[{name}:N-N]" if m["end"] else f"# src[{name}:N]"


def normalize(code: str) -> str:
    """Canonical form of generated source ``code`` (idempotent: ``normalize(normalize(c))`` is
    ``normalize(c)``).

    The result uses ``\\n`` line endings, has no trailing whitespace on any line and ends with
    exactly one newline (an empty input stays empty).
    """
    text = code.replace("\r\n", "\n").replace("\r", "\n")
    text = _SRC_COMMENT.sub(_src_comment, text)
    text = _FILE_LINE.sub(r"\g<file>:N", text)
    text = _ABS_PATH.sub("<path>/", text)
    text = _DEVICE_STR.sub("device=DEVICE", text)
    text = _DEVICE_OBJ.sub("device=DEVICE", text)
    text = _ADDRESS.sub("at 0xADDR", text)
    text = _GEN_MODULE.sub("kcheck_gen_HASH", text)
    text = _TENSOR_DESCRIPTOR.sub("tl.make_tensor_descriptor", text)
    lines = [line.rstrip() for line in text.split("\n")]
    body = "\n".join(lines).strip("\n")
    return body + "\n" if body else ""
