"""The benchmarks drive the package's own search loop, references and store instead of
re-implementing them: a copy measures itself, not autopeft, and drifts from it unseen
(issue 35). Read from the benchmarks' source with ``ast``, and one resolved on a tiny BERT."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
# What the package owns and a benchmark must call rather than define again: how a fixed
# configuration becomes a point, the search loop, successive halving, the synthetic study.
OWNED = ("driver/space.py", "driver/loop.py", "optim/fidelity.py", "testing/synthetic_search.py")
# Module paths belong to the discovered architecture, never to a benchmark's strings.
MODULE_PATH_PARTS = ("encoder.layer", "attention.self", "model.layers")


def benchmark_sources() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in sorted(BENCHMARKS.glob("*.py"))}


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def defined_names(tree: ast.Module) -> set[str]:
    """Names of the functions and classes a module defines, at any depth."""
    return {node.name for node in ast.walk(tree) if isinstance(node, DEFINITIONS)}


def public_names(path: str) -> set[str]:
    """The public functions and classes of the package module at ``path`` (under autopeft/)."""
    tree = ast.parse((REPO / "autopeft" / path).read_text())
    return {node.name for node in tree.body if isinstance(node, DEFINITIONS) and not node.name.startswith("_")}


def imports_from(tree: ast.Module) -> list[tuple[str, str]]:
    """(module, name) of every ``from module import name``."""
    return [
        (node.module or "", alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]


def test_the_benchmarks_are_read():
    assert {"optimizer.py", "proxy_fidelity.py", "_common.py", "ray_scaling.py"} <= set(benchmark_sources())


@pytest.mark.parametrize("name", sorted(benchmark_sources()))
def test_no_benchmark_writes_the_stores_keys(name):
    tree = benchmark_sources()[name]
    keys = [
        f"{module}.{key}" for module, key in imports_from(tree) if module.startswith("autopeft.store") and key.isupper()
    ]
    assert not keys, f"{name} imports the store's keys {keys}: call a StudyStore method instead"
    writes = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("set_user_attr", "set_system_attr")
    ]
    assert not writes, f"{name} writes optuna attributes itself (lines {writes}): the store keeps what a trial holds"


@pytest.mark.parametrize("name", sorted(benchmark_sources()))
def test_no_benchmark_redefines_what_the_package_owns(name):
    owned = set().union(*(public_names(path) for path in OWNED))
    again = defined_names(benchmark_sources()[name]) & owned
    assert not again, f"{name} defines {sorted(again)} again: call the package's"


@pytest.mark.parametrize("name", sorted(benchmark_sources()))
def test_no_benchmark_runs_successive_halving_itself(name):
    schedules = [key for module, key in imports_from(benchmark_sources()[name]) if module == "autopeft.optim.fidelity"]
    assert not schedules, f"{name} imports {schedules}: successive halving runs in SearchLoop (see synthetic_search)"


@pytest.mark.parametrize("name", sorted(benchmark_sources()))
def test_no_benchmark_spells_module_paths(name):
    strings = [
        node.value
        for node in ast.walk(benchmark_sources()[name])
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    paths = [s for s in strings if any(part in s for part in MODULE_PATH_PARTS)]
    assert not paths, f"{name} spells module paths {paths}: write a references: entry (modules: [q, v])"


def test_the_default_reference_is_lora_r8_on_query_and_value(tiny_bert):
    """The benchmarks' default, resolved by the package on a tiny BERT, trains what PEFT's own
    LoRA r=8 on query and value trains."""
    from peft import LoraConfig, get_peft_model

    from autopeft.methods import build_model
    from autopeft.models.loading import load_base_model
    from autopeft.tasks import task_for

    sys.path.insert(0, str(BENCHMARKS))
    import _common

    def lora_weights(model) -> int:
        return sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and "lora_" in n)

    base = load_base_model(str(tiny_bert), task_for("classification"), ["no", "yes"])
    point = _common.reference_point(_common.LORA_R8_QV, base, 1e-3, 5e-3)
    ours = build_model(base, point)
    fresh = load_base_model(str(tiny_bert), task_for("classification"), ["no", "yes"])
    peft = get_peft_model(fresh, LoraConfig(r=8, target_modules=["query", "value"]))
    assert lora_weights(ours) == lora_weights(peft) == 3 * 2 * 8 * (32 + 32)  # 3 layers, q and v, hidden 32
    assert (point.hyperparameters.learning_rate, point.hyperparameters.head_learning_rate) == (1e-3, 5e-3)
