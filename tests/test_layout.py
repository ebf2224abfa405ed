"""The package's layout: no import cycles and no module over 400 lines, read from the source
with ``ast`` (nothing is imported or run).

An import counts wherever it is written: at the top, inside a function (lazy) or under
``if TYPE_CHECKING``. Importing ``a.b.c`` runs ``a/b/__init__.py`` first, so it counts as an
import of ``a.b`` too (but not of the top package ``autopeft``, which every import runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autopeft"
MAX_LINES = 400


# Cycles owned by another piece of work, allowed until it lands: a cycle found must lie within
# one of these module sets. Delete an entry (and this comment when it is empty) once it is fixed.
def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in it, and their parent packages)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in mods:
                        graph[name].add(full)
                    elif base in mods:
                        graph[name].add(base)
    for name, deps in graph.items():  # importing a.b.c runs a.b's __init__ first
        for dep in list(deps):
            parts = dep.split(".")
            for k in range(2, len(parts)):
                parent = ".".join(parts[:k])
                if parent in mods and parent != name and not name.startswith(parent + "."):
                    deps.add(parent)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(start: str) -> None:  # Tarjan's algorithm, iteratively (no recursion limit)
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for dep in edges:
                if dep not in index:
                    index[dep] = low[dep] = counter
                    counter += 1
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(sorted(graph[dep]))))
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    found = [sorted(cycle) for cycle in cycles(import_graph(PACKAGE))]
    assert not found, f"import cycles: {found}"


def test_no_module_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules(PACKAGE).items()}
    large = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not large, f"modules over {MAX_LINES} lines: {large}"


def test_the_search_space_layers_import_no_cycle_at_all():
    """The layers below the spec (space primitives, methods, models) sit in no cycle, allowed or not."""
    layered = ("autopeft.space", "autopeft.methods", "autopeft.models", "autopeft.search_space")
    for cycle in cycles(import_graph(PACKAGE)):
        assert not [m for m in cycle if m.startswith(layered)], sorted(cycle)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        # a lazy import inside a function closes a cycle
        (
            {"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import x\n", "pkg/b.py": "def f():\n    import pkg.a\n"},
            {"pkg.a", "pkg.b"},
        ),
        # importing pkg.sub.low runs pkg/sub/__init__.py, which imports pkg.high
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "from pkg.high import y\n",
                "pkg/sub/low.py": "",
                "pkg/high.py": "from pkg.sub.low import z\n",
            },
            {"pkg.high", "pkg.sub"},
        ),
        # a relative import under TYPE_CHECKING
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from . import b\n",
                "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n",
            },
            {"pkg.a", "pkg.b"},
        ),
    ],
)
def test_the_checker_sees_lazy_parent_and_type_checking_imports(tmp_path, files, cycle):
    assert cycles(import_graph(_write(tmp_path, files))) == [cycle]


def test_the_checker_passes_a_layered_package(tmp_path):
    files = {"pkg/__init__.py": "from pkg.top import t\n", "pkg/top.py": "from pkg.low import x\n", "pkg/low.py": ""}
    assert cycles(import_graph(_write(tmp_path, files))) == []
