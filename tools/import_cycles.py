"""Fail when Python modules import one another in a circle: ``python tools/import_cycles.py plugins lab``.

Each argument is a source root (a directory); a module's name is its path from the root's parent,
so ``lab/host/host.py`` is ``lab.host.host``. An import counts wherever it is written: at the top,
inside a function (a circle that only closes at call time is still a circle), under ``try`` and
under ``if TYPE_CHECKING:``. The last never runs, but it still means each module's types are
spelled in terms of the other's, which is the coupling this check exists to stop; a
``typing.Protocol`` owned by the importing side is the way out.

``ansible_collections.rollout.windows.plugins.X`` is how ``plugins/`` imports itself; it is read
as ``plugins.X``. Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``, so it
depends on those packages too, except where the importer is inside them: a package's own modules
are imported while the package is initialising, which is how packages work, not a circle.

Exit status 0: no circle; 1: every circle printed, one path of imports for each with file and line.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

COLLECTION_PREFIX = "ansible_collections.rollout.windows."


@dataclass(frozen=True)
class Edge:
    target: str
    path: Path
    line: int


@dataclass
class Graph:
    files: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, dict[str, Edge]] = field(default_factory=dict)  # importer -> target -> first such import


def module_files(roots: Iterable[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            raise SystemExit(f"import_cycles: not a directory: {root}")
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            parts = [root.resolve().name, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _canonical(name: str) -> str:
    return name[len(COLLECTION_PREFIX) :] if name.startswith(COLLECTION_PREFIX) else name


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """Every module name the statement may load, most specific last (``from a import b`` may mean ``a.b``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield _canonical(alias.name)
        return
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level - 1 > len(package):
            return  # beyond the top of the roots: not one of ours
        base_parts = package[: len(package) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = _canonical(node.module or "")
    if base:
        yield base
    for alias in node.names:
        if alias.name != "*":
            yield f"{base}.{alias.name}" if base else alias.name


def _targets(name: str, importer: str, files: dict[str, Path]) -> Iterator[str]:
    """``name`` when it is one of ours, plus the packages whose ``__init__`` loading it runs first."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        package = ".".join(parts[:i])
        if package in files and not (importer == package or importer.startswith(package + ".")):
            yield package
    if name in files:
        yield name


def build_graph(roots: Iterable[Path]) -> Graph:
    graph = Graph(files=module_files(roots))
    for module, path in graph.files.items():
        edges = graph.edges.setdefault(module, {})
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported_names(node, module, path.name == "__init__.py"):
                for target in _targets(name, module, graph.files):
                    if target != module:
                        edges.setdefault(target, Edge(target, path, node.lineno))
    return graph


def strongly_connected(edges: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's components with more than one module, iteratively (no recursion limit on deep chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def shortest_circle(edges: dict[str, dict[str, Edge]], component: list[str]) -> list[tuple[str, Edge]]:
    """One shortest path of imports (importer, import) from the component's first module back to itself."""
    members = set(component)
    start = component[0]
    reached: dict[str, tuple[str, Edge] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, edge in sorted(edges[node].items()):
            if target == start:
                path = [(node, edge)]
                while (step := reached[path[-1][0]]) is not None:
                    path.append(step)
                return path[::-1]
            if target in members and target not in reached:
                reached[target] = (node, edge)
                queue.append(target)
    raise AssertionError(f"{start} is in a component without a circle through it")


def report(graph: Graph, components: list[list[str]], root: Path) -> str:
    lines = []
    for component in components:
        lines.append(f"import circle of {len(component)} modules: {', '.join(component)}")
        for importer, edge in shortest_circle(graph.edges, component):
            where = edge.path.resolve()
            shown = where.relative_to(root) if where.is_relative_to(root) else where
            lines.append(f"  {importer} -> {edge.target}  ({shown}:{edge.line})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("roots", nargs="+", type=Path, help="source directories, e.g. plugins lab")
    args = parser.parse_args(argv)
    graph = build_graph(args.roots)
    components = strongly_connected(graph.edges)
    if not components:
        print(f"import_cycles: no circle among {len(graph.files)} modules")
        return 0
    print(report(graph, components, Path.cwd().resolve()))
    return 1


if __name__ == "__main__":
    sys.exit(main())
