#!/usr/bin/env python3
"""Print every import cycle among the modules of a package; exit 1 if there is one.

Every ``import``/``from ... import`` statement of every module is an edge, wherever it is: at
module level, inside a function or method, under ``try`` or ``if``. An import inside a function
closes a cycle as surely as one at the top of the file, only later, so it counts the same. Only
imports under ``if TYPE_CHECKING:`` are left out (they never run), unless
``--include-type-checking`` is given. With ``--rooms`` each sub-package is one node, for the
walls between rooms rather than between modules.

An edge goes to the module that the statement names: ``import checker.a.b`` and
``from checker.a import b`` (``b`` a submodule) import ``checker.a.b``; ``from checker.a import
f`` (``f`` defined in ``checker/a.py`` or ``checker/a/__init__.py``) imports ``checker.a``;
``from checker import x`` imports ``checker.x``. Relative imports are resolved the same way.
Parent packages that Python initialises on the way are not edges of their own: a package's
``__init__`` is a node only when it is named.

Output: each strongly connected set of modules, then, for every import edge inside it, the
shortest cycle through that edge (so every edge that has to go is shown at least once), each
edge with the file and line of its import statements.

Usage::

    python ci/import_cycles.py                         # the checker package next to ci/
    python ci/import_cycles.py --ignore plugin:golden_plugin --ignore report.x:triage.y
    python ci/import_cycles.py --root path/to/pkg     # any other package directory

``--ignore A:B`` drops the edge from module A to module B (names with or without the package
prefix) for edges not fixed yet. An ignored edge that no longer exists is an error too, so that
the list of ignores only ever shrinks. Exit status: 0 no cycle, 1 a cycle or a stale ``--ignore``,
2 bad usage.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Site:
    """Where an import statement is: a file relative to the package's parent, and its line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


#: module -> imported module -> the statements that import it.
Graph = dict[str, dict[str, list[Site]]]


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under package directory ``root``.

    ``root``'s own name is the top package (``checker``); ``x/__init__.py`` is module ``x``.
    """
    top = root.name
    names: dict[str, Path] = {}
    for file in sorted(root.rglob("*.py")):
        parts = file.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join((top, *parts))] = file
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, include_type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``tree``, at any depth."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and not include_type_checking and _is_type_checking(node.test):
            # The ``else`` branch still runs.
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _package_of(module: str, file: Path) -> str:
    """The package a module's relative imports start from."""
    return module if file.name == "__init__.py" else module.rpartition(".")[0]


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, file: Path, known: dict[str, Path]
) -> Iterator[str]:
    """The known modules that one import statement imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in known:
                yield alias.name
        return
    if node.level:
        base = _package_of(module, file)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in known:
            yield submodule
        elif source in known:
            yield source


def build_graph(root: Path, include_type_checking: bool = False) -> Graph:
    """The import graph of every module under package directory ``root``.

    Raises ``SyntaxError`` for a module that does not parse.
    """
    known = module_names(root)
    graph: Graph = {name: {} for name in known}
    for module, file in known.items():
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        site_path = str(file.relative_to(root.parent))
        for node in _imports(tree, include_type_checking):
            for target in _targets(node, module, file, known):
                if target == module:
                    continue
                sites = graph[module].setdefault(target, [])
                site = Site(site_path, node.lineno)
                if site not in sites:
                    sites.append(site)
    for targets in graph.values():
        for sites in targets.values():
            sites.sort(key=lambda site: site.line)
    return graph


def rooms(graph: Graph, top: str) -> Graph:
    """``graph`` with each sub-package of ``top`` as one node (``checker.report.junit`` ->
    ``checker.report``); imports inside one room are dropped."""

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: Graph = {}
    for source, targets in graph.items():
        edges = out.setdefault(room(source), {})
        for target, sites in targets.items():
            if room(target) != room(source):
                merged = edges.setdefault(room(target), [])
                merged.extend(site for site in sites if site not in merged)
    for targets in out.values():
        for sites in targets.values():
            sites.sort(key=lambda site: (site.path, site.line))
    return out


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted, in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so a deep chain of imports cannot hit the recursion limit.
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = []

        def enter(node: str) -> None:
            nonlocal counter
            index[node] = low[node] = counter
            counter += 1
            stack.append(node)
            on_stack.add(node)
            work.append((node, iter(sorted(graph[node]))))

        enter(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    enter(succ)
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _shortest_path(graph: Graph, members: set[str], start: str, goal: str) -> list[str]:
    """Shortest import path from ``start`` to ``goal`` inside ``members`` (both ends included)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for succ in sorted(graph[node]):
            if succ in members and succ not in seen:
                seen.add(succ)
                previous[succ] = node
                queue.append(succ)
    raise AssertionError(f"{goal} not reachable from {start} inside its component")


def cycles(graph: Graph, component: Sequence[str]) -> list[list[str]]:
    """The shortest cycle through each edge of ``component``, without repeats.

    A cycle is a list of modules whose last one imports the first; it is rotated to start at its
    smallest name.
    """
    members = set(component)
    found: dict[tuple[str, ...], None] = {}
    for source in component:
        for target in sorted(graph[source]):
            if target in members:
                cycle = [source, *_shortest_path(graph, members, target, source)[:-1]]
                first = cycle.index(min(cycle))
                found.setdefault(tuple(cycle[first:] + cycle[:first]), None)
    return [list(cycle) for cycle in sorted(found, key=lambda c: (len(c), c))]


def _qualify(name: str, top: str) -> str:
    return name if name == top or name.startswith(top + ".") else f"{top}.{name}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 no cycle, 1 cycles or stale ignores)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "checker",
        help="package directory to scan (default: the checker package of this checkout)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="A:B",
        help="leave out the import of module B by module A (repeatable; package prefix optional)",
    )
    parser.add_argument(
        "--include-type-checking",
        action="store_true",
        help="count imports under `if TYPE_CHECKING:` too",
    )
    parser.add_argument(
        "--rooms",
        action="store_true",
        help="count each sub-package as one node (checker.report, checker.triage...)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if not (root / "__init__.py").is_file():
        parser.error(f"{root} is not a package directory")
    top = root.name

    graph = build_graph(root, args.include_type_checking)
    if args.rooms:
        graph = rooms(graph, top)
    stale: list[str] = []
    for spec in args.ignore:
        source, sep, target = spec.partition(":")
        if not sep or not source or not target:
            parser.error(f"--ignore takes A:B, not {spec!r}")
        source, target = _qualify(source, top), _qualify(target, top)
        if graph.get(source, {}).pop(target, None) is None:
            stale.append(f"{source} -> {target}")

    components = strongly_connected(graph)
    total = 0
    for number, component in enumerate(components, 1):
        print(f"cycle set {number}: {len(component)} modules: {' '.join(component)}")
        for cycle in cycles(graph, component):
            total += 1
            print("  " + " -> ".join([*cycle, cycle[0]]))
            for source, target in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
                sites = ", ".join(str(site) for site in graph[source][target])
                print(f"      {source} -> {target}: {sites}")
    for edge in stale:
        print(f"stale --ignore: {edge} is not imported any more; drop the --ignore", file=sys.stderr)
    if components:
        print(f"{total} import cycles in {len(components)} cycle sets")
    else:
        print("no import cycles")
    return 1 if components or stale else 0


if __name__ == "__main__":
    sys.exit(main())
