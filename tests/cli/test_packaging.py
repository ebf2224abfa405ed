"""The wheel is a whole install: every module, the preset YAML files, and a search run from it,
outside the repository, that names a preset space and leaves the objectives to the default preset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PRESET_FOLDERS = ("search_spaces", "objectives")
# What a clean clone lacks (.gitignore) or a build does not need.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "autopeft-runs"
)


def pip(*args: str) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (a build in place would reuse a stale build/)."""
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(REPO, source, ignore=NOT_SOURCE, dirs_exist_ok=True)
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(source))
    (built,) = out.glob("autopeft-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed alone into a folder, for PYTHONPATH."""
    target = tmp_path_factory.mktemp("target")
    pip("install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel))
    return target


def test_the_wheel_holds_every_module_and_the_presets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "autopeft").rglob("*.py")}
    assert modules - names == set(), "modules missing from the wheel: list their packages in pyproject.toml"
    assert "autopeft/py.typed" in names, "the PEP 561 marker: without it mypy and pyright ignore the type hints"
    for folder in PRESET_FOLDERS:
        presets = sorted(p.name for p in (REPO / folder).glob("*.yaml"))
        assert presets, folder
        assert {f"autopeft/spec/presets/{folder}/{name}" for name in presets} <= names, folder


# Runs in the subprocess: the wheel's autopeft (not the checkout's) searches from a folder
# outside the repository.
FROM_THE_WHEEL = """
import runpy, sys
from pathlib import Path
import autopeft
from autopeft.spec.presets import preset_folder
target = Path(sys.argv[1]).resolve()
assert target in Path(autopeft.__file__).resolve().parents, autopeft.__file__
assert target in Path(str(preset_folder("search_spaces"))).resolve().parents, preset_folder("search_spaces")
sys.argv = ["autopeft", "search", sys.argv[2]]
runpy.run_module("autopeft.cli", run_name="__main__")
"""


def test_a_search_runs_from_the_installed_wheel_with_preset_space_and_objectives(installed, tiny_bert, tmp_path):
    from autopeft.data.demo import write_demo_dataset

    data = write_demo_dataset(tmp_path / "data", train_size=16, validation_size=16)
    spec = {
        "name": "wheel",
        "model": str(tiny_bert),
        "data": {
            "train": str(data["train"]),
            "validation": str(data["validation"]),
            "text": "sentence",
            "label": "label",
        },
        "space": "hybrid",  # a preset; no objectives: the default preset
        "budget": {"steps": 2, "batch_size": 8, "max_length": 16},
        "trials": 1,
        "sampler": "random",
        "study_dir": str(tmp_path / "study"),
    }
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTOPEFT_")}
    env["PYTHONPATH"] = str(installed)
    run = subprocess.run(
        [sys.executable, "-c", FROM_THE_WHEEL, str(installed), str(spec_path)],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == f"study: {spec['study_dir']}"

    import autopeft

    study = autopeft.load_study(spec["study_dir"])
    assert study.objectives == ["accuracy", "trainable_params"]
    (trial,) = study.trials
    assert trial.state == "complete", trial.fail_reason
    assert [c["method"] for c in trial.point["components"]] == ["lora", "parallel_adapter"]
