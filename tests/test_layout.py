"""The package's layout: layers that import only downwards, no import cycles and no module over
400 lines, read from the source (``import_graph``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import cycles, import_graph, modules

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autopeft"
MAX_LINES = 400

# Top to bottom: a module may import its own layer and the layers below it, never one above.
# The README's Architecture section says what each holds.
LAYERS = (
    ("autopeft", "autopeft.api", "autopeft.cli"),  # entry points
    ("autopeft.results", "autopeft.finetune", "autopeft.testing"),  # after the search
    ("autopeft.driver",),  # the search driver
    ("autopeft.store",),  # a study on disk
    ("autopeft.optim", "autopeft.executors"),  # how to ask and where to run (no PEFT, no spec)
    ("autopeft.spec",),  # what the user writes
    ("autopeft.proxy",),  # the kernel: one configuration trained and measured
    ("autopeft.methods", "autopeft.models", "autopeft.tasks", "autopeft.data", "autopeft.space"),
    ("autopeft.errors",),
)


def layer_of(module: str) -> int:
    """Index in LAYERS (0 is the top) of the unit holding ``module``, by its longest prefix."""
    found = [
        (len(unit), depth)
        for depth, units in enumerate(LAYERS)
        for unit in units
        if module == unit or (unit != "autopeft" and module.startswith(unit + "."))
    ]
    assert found, f"{module} sits in no layer: add it to LAYERS"
    return max(found)[1]


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, d) for m, deps in graph.items() for d in deps if layer_of(d) < layer_of(m))


def test_every_import_runs_down_the_layers():
    assert upward_imports(import_graph(PACKAGE)) == []


def test_the_top_level_holds_only_the_entry_points():
    top = {name for name in modules(PACKAGE) if name.count(".") == 1 and not (PACKAGE / name.split(".")[1]).is_dir()}
    assert top == {"autopeft.api", "autopeft.errors"}  # and the cli/ package


def test_no_import_cycles():
    found = [sorted(cycle) for cycle in cycles(import_graph(PACKAGE))]
    assert not found, f"import cycles: {found}"


def test_no_module_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules(PACKAGE).items()}
    large = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not large, f"modules over {MAX_LINES} lines: {large}"


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


def test_the_layer_check_sees_an_import_from_below(tmp_path):
    """The store importing the search loop (say, for a type) is an upward import."""
    graph = {"autopeft.store.study": {"autopeft.driver.loop"}, "autopeft.driver.loop": {"autopeft.store.study"}}
    assert upward_imports(graph) == [("autopeft.store.study", "autopeft.driver.loop")]
    assert upward_imports({"autopeft.driver.loop": {"autopeft.store.study", "autopeft.errors"}}) == []


def test_the_checker_passes_a_layered_package(tmp_path):
    files = {"pkg/__init__.py": "from pkg.top import t\n", "pkg/top.py": "from pkg.low import x\n", "pkg/low.py": ""}
    assert cycles(import_graph(_write(tmp_path, files))) == []


def test_no_folder_hides_a_public_name():
    """Importing ``autopeft.X.y`` sets ``autopeft.X`` to the subpackage, so a folder named like a
    public function (``autopeft.search``) would replace it."""
    import autopeft

    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert not folders & set(autopeft.__all__)
