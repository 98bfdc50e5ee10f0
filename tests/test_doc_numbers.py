"""The numbers and paths the README and docs/ state about the committed tree match the tree.

Checked statically (no kernel is imported, nothing runs): the golden files of CPU runs, the
bundled kernel specs, the known-failures file and its categories, and where a pasted repro
command writes its reports. A doc that quotes one of these numbers must say it in one of the
forms below; the test fails when a form is no longer found, so a reworded sentence is rechecked
by hand rather than silently dropped (issue 25 item 7: the docs said 114 golden files where there
were 111).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

from checker.rerun import repro_reports_dir

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))}
#: The golden directory CPU runs (the main job, .ci/run) check.
CPU_GOLDEN = ROOT / "golden" / "cpu-sm_90"


def _flat(text: str) -> str:
    """Markdown with its line breaks undone, so a sentence is matched across lines."""
    return re.sub(r"\s+", " ", text)


def _one(pattern: str, text: str) -> re.Match[str]:
    found = list(re.finditer(pattern, _flat(text)))
    assert len(found) == 1, f"{pattern!r} found {len(found)} times: reworded? recheck the number"
    return found[0]


def _spec_names() -> list[str]:
    """The ``name=`` of every ``KernelSpec(...)`` in kernels/*.py, read from the source."""
    names: list[str] = []
    for path in sorted((ROOT / "kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "KernelSpec":
                kw = {k.arg: k.value for k in node.keywords}
                names.append(ast.literal_eval(kw["name"]))
    return names


def _baseline_categories() -> Counter[str]:
    lines = (ROOT / "kcheck-baseline.jsonl").read_text(encoding="utf-8").splitlines()
    return Counter(json.loads(line)["category"] for line in lines if line.strip())


def test_golden_file_counts() -> None:
    files = sorted(p for p in CPU_GOLDEN.rglob("*") if p.is_file())
    kernels = {p.parent.name for p in files}
    assert int(_one(r"`golden/cpu-sm_90/` for CPU runs \((\d+) files", README)[1]) == len(files)
    m = _one(r"bundled suite has (\d+) tracked cases \((\d+) specs\)", DOCS["goldens.md"])
    assert (int(m[1]), int(m[2])) == (len(files), len(kernels))
    # Every spec of the bundled suite tracks goldens.
    assert kernels == set(_spec_names())


def test_the_readme_names_every_bundled_kernel() -> None:
    sentence = _one(r"The bundled suite \(`kernels/`\): [^.]*\.", README)[0]
    named = set(re.findall(r"\b[a-z][a-z0-9_]*[a-z0-9]\b", sentence))
    missing = set(_spec_names()) - named
    assert not missing, f"the README's list of bundled kernels lacks {sorted(missing)}"


def test_known_failure_counts() -> None:
    categories = _baseline_categories()
    total = sum(categories.values())
    assert int(_one(r"the (\d+) sampled-config failures above are in it", README)[1]) == total
    m = _one(
        r"(\d+) real failures found without a GPU: (\d+) `numel-overflow`, (\d+) `out-of-resources`, "
        r"(\d+) `compiler-crash`",
        README,
    )
    assert int(m[1]) == total
    assert {"numel-overflow": int(m[2]), "out-of-resources": int(m[3]), "compiler-crash": int(m[4])} == dict(
        categories
    )
    assert int(_one(r"exited 0: the (\d+) are the committed known failures", README)[1]) == total


def test_docs_say_where_a_pasted_repro_writes_its_reports() -> None:
    """checker/rerun.py: ``kcheck-repro/<case>``, never the run's ``reports/``."""
    home = repro_reports_dir("x").parent.as_posix()
    said = [
        (name, m[1])
        for name, text in [("README.md", README), *DOCS.items()]
        for m in re.finditer(r"repro[^.]*? writes its reports to [^`.]*`([^`]+)`", _flat(text))
    ]
    assert said, "no doc says where a repro writes its reports"
    for name, path in said:
        assert path.startswith(f"{home}/"), f"{name}: a repro writes its reports to {path}, not {home}/"


def test_kernel_spec_shows_the_reduction_kernel_it_names() -> None:
    """docs/kernel-spec.md quotes kernels/sum.py's ``row_sum`` verbatim."""
    source = (ROOT / "kernels" / "sum.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "row_sum")
    lines = source.splitlines()[fn.decorator_list[0].lineno - 1 : fn.end_lineno]
    assert "```python\n" + "\n".join(lines) + "\n```" in DOCS["kernel-spec.md"]
