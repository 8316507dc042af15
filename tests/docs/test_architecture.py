"""docs/ARCHITECTURE.md's dependency rules, checked on the source itself.

The module import graph of gateway/, streams/, hypermedia/, apidocs/ and
demo_project/ is read statically (``ast``, nothing imported), counting every
import: at module level and inside functions alike, since an import deferred
into a function still makes the two modules depend on each other, it only
hides the cycle from the interpreter. Imports under ``if TYPE_CHECKING:`` are
left out: they exist for the type checker only.

The rules: no cycle between modules; ``gateway`` imports nothing of
``streams``, ``hypermedia`` or ``apidocs`` (the multiplexer hosts any ASGI
app); ``streams`` imports nothing of ``hypermedia`` or ``apidocs``, and
``hypermedia`` nothing of ``apidocs`` (the table's "depends on" column).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "streams", "hypermedia", "apidocs")
#: demo_project/ is run from inside itself (manage.py), so its modules are
#: top-level names: ``library.views``, ``demo_project.settings``.
DEMO = ROOT / "demo_project"

#: package -> the packages it must not import (docs/ARCHITECTURE.md).
FORBIDDEN = {
    "gateway": {"streams", "hypermedia", "apidocs"},
    "streams": {"hypermedia", "apidocs"},
    "hypermedia": {"apidocs"},
}
#: The one documented crossing: the pytest plugin (the testing kit, loaded by
#: pytest's entry point, never by a running gateway) closes the action and
#: membership threads' database connections between tests; its imports are
#: inside the fixture, so the multiplexer itself never loads streams.
ALLOWED_CROSSINGS = {
    ("gateway.pytest_plugin", "streams.threads"),
    ("gateway.pytest_plugin", "streams.observer.membership"),
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path.relative_to(ROOT)}:{self.line})"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[_module_name(path, ROOT)] = path
    for path in sorted(DEMO.rglob("*.py")):
        name = _module_name(path, DEMO)
        if name:  # not manage.py's folder itself
            modules[name] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every dotted name imported in ``tree`` (relative imports resolved), with its line."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                pending.extend(child.orelse)  # the else branch runs
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join([*package, base] if base else package)
                for alias in child.names:
                    # ``from pkg import submodule`` imports the submodule.
                    yield f"{base}.{alias.name}", child.lineno
            else:
                pending.append(child)


def import_graph() -> dict[str, list[Edge]]:
    modules = project_modules()
    graph: dict[str, list[Edge]] = {name: [] for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        seen = set()
        for imported, line in _imported_names(tree, name, path.name == "__init__.py"):
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()  # ``from pkg.mod import name``: the module is pkg.mod
            target = ".".join(parts)
            if target and target != name and target not in seen:
                seen.add(target)
                graph[name].append(Edge(name, target, path, line))
    return graph


def cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """One cycle (as its edges) per strongly connected group of modules."""
    return [_a_cycle_in(graph, group) for group in strongly_connected(graph)]


def strongly_connected(graph: dict[str, list[Edge]]) -> list[set[str]]:
    """The groups of two or more modules that each reach every other of the group."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(start: str) -> None:
        # Tarjan's algorithm, iterative: (module, position in its edge list).
        work = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, position = work.pop()
            edges = graph[node]
            if position < len(edges):
                work.append((node, position + 1))
                target = edges[position].target
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for module in graph:
        if module not in index:
            connect(module)
    return groups


def _a_cycle_in(graph: dict[str, list[Edge]], group: set[str]) -> list[Edge]:
    """A path from the group's first module back to itself, inside the group."""
    start = min(group)
    came_by: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for edge in graph[node]:
            if edge.target not in group:
                continue
            if edge.target == start:
                path = [edge]
                while path[0].source != start:
                    path.insert(0, came_by[path[0].source])
                return path
            if edge.target not in came_by:
                came_by[edge.target] = edge
                frontier.append(edge.target)
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_the_graph_sees_the_packages_and_their_imports() -> None:
    # Guards the test itself: a graph missing modules or edges would pass anything.
    graph = import_graph()
    assert {"gateway.gateway", "streams.consumers", "hypermedia.serializers"} <= set(graph)
    assert {"apidocs.inspector", "library.consumers", "demo_project.settings"} <= set(graph)
    assert "streams.consumers" in {edge.target for edge in graph["streams.generics"]}
    assert "library.consumers" in {edge.target for edge in graph["library.demoplexer"]}


def test_no_import_cycle_between_modules() -> None:
    found = cycles(import_graph())
    assert not found, (
        "Import cycles (break each by moving what both modules need into a third module "
        "both import, or by inverting one dependency; a deferred import only hides it):\n"
        + "\n".join("  " + "\n    ".join(str(edge) for edge in cycle) for cycle in found)
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_they_depend_on(package: str) -> None:
    crossings = [
        str(edge)
        for module, edges in import_graph().items()
        if module.split(".")[0] == package
        for edge in edges
        if edge.target.split(".")[0] in FORBIDDEN[package]
        and (edge.source, edge.target) not in ALLOWED_CROSSINGS
    ]
    assert not crossings, (
        f"{package} must not import {', '.join(sorted(FORBIDDEN[package]))} "
        "(docs/ARCHITECTURE.md):\n  " + "\n  ".join(crossings)
    )
