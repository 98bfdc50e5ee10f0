"""ci/import_cycles.py: every import cycle among a package's modules, imports inside functions too.

Each test writes a small package under tmp_path and runs the script's ``main`` on it.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "ci" / "import_cycles.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class body runs.
    sys.modules["import_cycles"] = module
    spec.loader.exec_module(module)
    return module


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return pkg


def _run(script: ModuleType, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = script.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_a_cycle_through_an_import_inside_a_function_is_found(script, capsys, tmp_path):
    pkg = _package(
        tmp_path,
        {
            "low.py": "import os\n\ndef f():\n    from pkg import high\n    return high\n",
            "high.py": "from pkg.low import f\n",
            "alone.py": "from pkg import low\n",
        },
    )
    rc, out, _ = _run(script, capsys, "--root", str(pkg))
    assert rc == 1
    assert "cycle set 1: 2 modules: pkg.high pkg.low" in out
    assert "pkg.high -> pkg.low -> pkg.high" in out
    assert "pkg.low -> pkg.high: pkg/low.py:4" in out  # the line of the import inside f
    assert "pkg.alone" not in out.split("cycle set 1")[1].splitlines()[0]


def test_relative_submodule_and_package_imports_resolve(script, capsys, tmp_path):
    pkg = _package(
        tmp_path,
        {
            "sub/__init__.py": "from .a import x\n",
            "sub/a.py": "x = 1\n\nclass C:\n    def m(self):\n        from .. import top\n",
            "top.py": "from pkg.sub import x\n",
        },
    )
    rc, out, _ = _run(script, capsys, "--root", str(pkg))
    assert rc == 1
    # sub/a.py -> pkg.top (relative, in a method) -> pkg.sub (its __init__ defines x) -> sub.a
    assert "pkg.sub -> pkg.sub.a -> pkg.top -> pkg.sub" in out


def test_type_checking_imports_are_left_out_unless_asked(script, capsys, tmp_path):
    pkg = _package(
        tmp_path,
        {
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
            "b.py": "import pkg.a\n",
        },
    )
    assert _run(script, capsys, "--root", str(pkg))[:2] == (0, "no import cycles\n")
    rc, out, _ = _run(script, capsys, "--root", str(pkg), "--include-type-checking")
    assert rc == 1 and "pkg.a -> pkg.b -> pkg.a" in out


def test_ignore_drops_an_edge_and_a_stale_ignore_fails(script, capsys, tmp_path):
    pkg = _package(tmp_path, {"a.py": "from pkg import b\n", "b.py": "from pkg import a\n"})
    assert _run(script, capsys, "--root", str(pkg), "--ignore", "b:a")[0] == 0
    assert _run(script, capsys, "--root", str(pkg), "--ignore", "pkg.a:pkg.b")[0] == 0
    rc, out, err = _run(script, capsys, "--root", str(pkg), "--ignore", "b:a", "--ignore", "a:c")
    assert rc == 1
    assert "no import cycles" in out
    assert "stale --ignore: pkg.a -> pkg.c" in err


def test_every_edge_of_a_knot_is_on_some_printed_cycle(script, capsys, tmp_path):
    # a -> b -> c -> a and a -> c -> a: two cycles in one set; every edge must be shown.
    pkg = _package(
        tmp_path,
        {"a.py": "from pkg import b, c\n", "b.py": "from pkg import c\n", "c.py": "from pkg import a\n"},
    )
    rc, out, _ = _run(script, capsys, "--root", str(pkg))
    assert rc == 1
    assert "cycle set 1: 3 modules: pkg.a pkg.b pkg.c" in out
    assert "  pkg.a -> pkg.c -> pkg.a" in out
    assert "  pkg.a -> pkg.b -> pkg.c -> pkg.a" in out
    assert out.strip().endswith("2 import cycles in 1 cycle sets")


def test_rooms_count_a_sub_package_as_one_node(script, capsys, tmp_path):
    # No module cycle: report.a -> triage.b -> report.c; between the rooms, report <-> triage.
    pkg = _package(
        tmp_path,
        {
            "report/__init__.py": "",
            "report/a.py": "from pkg.triage import b\n",
            "report/c.py": "",
            "triage/__init__.py": "",
            "triage/b.py": "def f():\n    from pkg.report import c\n",
        },
    )
    assert _run(script, capsys, "--root", str(pkg))[:2] == (0, "no import cycles\n")
    rc, out, _ = _run(script, capsys, "--root", str(pkg), "--rooms")
    assert rc == 1
    assert "pkg.report -> pkg.triage -> pkg.report" in out
    assert "pkg.triage -> pkg.report: pkg/triage/b.py:2" in out
