"""Bad study specs stop with one line naming the field and the fix, before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autopeft import SpecError, load_spec, search
from autopeft.spec import parse_spec


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("name", ["rte-hub", "stsb-regression", "instruction-tuning"])
def test_hub_examples_are_valid(name):
    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" / f"{name}.yaml")
    assert spec.objectives[0] in {"accuracy", "pearson", "perplexity"}


def test_quickstart_spec_is_valid():
    spec = load_spec(Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml")
    assert spec.model == "minilm"
    assert Path(spec.data.train).is_file(), "data paths resolve against the spec's folder"


def test_unknown_key_names_field_and_allowed_keys(tmp_path, quick_spec):
    quick_spec["space"]["rnak"] = [2]
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, quick_spec))
    message = str(caught.value)
    assert "\n" not in message
    assert "space.lora.rnak: unknown key" in message
    assert "rank" in message.split("Fix:")[1]
    assert str(tmp_path / "spec.yaml") in message


def test_unknown_top_level_key(tmp_path, quick_spec):
    quick_spec["trails"] = 3
    with pytest.raises(SpecError, match=r"trails: unknown key\. Fix: remove it or use one of: .*trials"):
        load_spec(write(tmp_path, quick_spec))


def test_bad_value_names_allowed_values(tmp_path, quick_spec):
    quick_spec["sampler"] = "bayes"
    with pytest.raises(
        SpecError, match=r"sampler: .*Fix: use one of the allowed values \('mobo', 'tpe', 'random' or 'nsga2'\)"
    ):
        load_spec(write(tmp_path, quick_spec))


@pytest.mark.parametrize("value", [float("nan"), {"low": 1e-4, "high": float("inf")}])
def test_a_learning_rate_that_is_no_number_is_refused(quick_spec, value):
    quick_spec["space"]["learning_rate"] = value
    with pytest.raises(SpecError, match=r"space\.learning_rate(\.high)?: Input should be a (finite|valid) number"):
        parse_spec(quick_spec)


@pytest.mark.parametrize("method", ["lora", "vera"])
@pytest.mark.parametrize("dropout", [1.0, -0.1, {"low": 0.0, "high": 1.5}])
def test_dropout_is_a_probability_below_one(quick_spec, method, dropout):
    quick_spec["space"] = {"method": method, "modules": ["q"], "dropout": dropout}
    with pytest.raises(SpecError, match=r"space\.\w+\.dropout: dropout is a probability in \[0, 1\)"):
        parse_spec(quick_spec)
    quick_spec["space"]["dropout"] = {"low": 0.0, "high": 0.3}
    assert parse_spec(quick_spec).space.components[0].dropout.high == 0.3


def test_malformed_yaml(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("name: x\ndata: [unclosed\n")
    with pytest.raises(SpecError, match=r"spec.yaml: line \d+: malformed YAML"):
        load_spec(path)
    path.write_text("name: x\ntrials: 2\nmodel: minilm\ntrials: 50\n")  # PyYAML alone keeps the last
    with pytest.raises(SpecError, match=r"spec.yaml: line 4: malformed YAML: the key 'trials' is given twice"):
        load_spec(path)
    path.write_text("name: x\ndata:\n\ttrain: a.jsonl\n")
    with pytest.raises(SpecError, match=r"line 3: malformed YAML: found character '\\t'"):
        load_spec(path)
    path.write_bytes("name: x\n# caf\u00e9\n".encode("latin-1"))  # a spec saved in another encoding
    with pytest.raises(SpecError, match=r"spec.yaml: line 2: bytes that are not UTF-8 text\. Fix: save the file as"):
        load_spec(path)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="spec: no file at"):
        load_spec(tmp_path / "nope.yaml")


def test_range_must_be_ordered(quick_spec):
    quick_spec["space"]["learning_rate"] = {"low": 1e-2, "high": 1e-3, "log": True}
    with pytest.raises(SpecError, match=r"space.learning_rate: low .* must be below high"):
        parse_spec(quick_spec)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["data"].update(train="missing/train.jsonl"), r"data.train: no file at .*missing/train.jsonl"),
        (
            lambda s: s["data"].update(text="review"),
            r"data.text: column 'review' is not in data.train \(columns: .*sentence",
        ),
        (lambda s: s["data"].update(label="stars"), r"data.label: column 'stars' is not in data.train"),
        (
            lambda s: s["space"].update(modules=["ffn_gate"]),
            r"space.lora.modules: role 'ffn_gate' not found .*Fix: use roles",
        ),
        (
            lambda s: s["space"].update(layers=[0, 7]),
            r"space.lora.layers: layer 7 is out of range for this 3-layer model",
        ),
        (
            lambda s: s["space"].update(rank=[2, 64]),
            r"space.lora.rank: rank 64 exceeds the smallest targeted matrix dimension \(32\)",
        ),
    ],
)
def test_bad_input_fails_before_any_trial(tmp_path, quick_spec, change, expected):
    change(quick_spec)
    spec_path = write(tmp_path, quick_spec)
    with pytest.raises(SpecError, match=expected) as caught:
        search(spec_path)
    assert str(caught.value).startswith(f"{spec_path}: "), "named in the spec file, as parse errors are"
    assert "\n" not in str(caught.value)
    assert "Fix:" in str(caught.value)
    assert not (Path(quick_spec["study_dir"]) / "study.db").exists() or _no_trials(quick_spec["study_dir"])


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["space"].update(modules=["ffn_gate"]),
        lambda s: s["space"].update(layers=[0, 7]),
        lambda s: s["space"].update(rank=[2, 64]),
        lambda s: s.update(references={"mine": {"method": "lora", "modules": ["q"], "rank": 4, "layers": [9]}}),
        lambda s: s.update(constraints={"max_trainable_params": 10}),
    ],
)
def test_the_space_is_checked_before_the_weights_load(tmp_path, quick_spec, change, monkeypatch):
    """From the model's configuration alone (a 7B model's weights take minutes to load)."""

    def no_weights(*args, **kwargs):
        raise AssertionError("the weights were loaded before the space was checked")

    monkeypatch.setattr("autopeft.driver.prepare.load_base_model", no_weights)
    change(quick_spec)
    with pytest.raises(SpecError) as caught:
        search(write(tmp_path, quick_spec))
    assert "\n" not in str(caught.value) and "Fix:" in str(caught.value)
    assert not Path(quick_spec["study_dir"]).exists()


def test_a_skeleton_that_misdescribes_the_loaded_model_gives_way_to_the_loaded_model(quick_spec, monkeypatch):
    """A checkpoint whose configuration describes other shapes (a quantized one, say): the
    space the search uses is the loaded model's."""
    import autopeft.driver.prepare as prepare
    from autopeft.driver.prepare import prepare_study

    real = prepare.load_skeleton

    def four_layers(model, task, labels):
        shapes = real(model, task, labels)
        shapes.bert.encoder.layer.append(shapes.bert.encoder.layer[-1])  # one layer the checkpoint lacks
        return shapes

    monkeypatch.setattr(prepare, "load_skeleton", four_layers)
    prepared = prepare_study(parse_spec(quick_spec), None, "cpu")
    assert prepared.arch.num_layers == 3 == len(prepared.context.base_model.bert.encoder.layer)


def test_a_bad_device_is_the_arguments_error_not_the_spec_files(tmp_path, quick_spec):
    spec_path = write(tmp_path, quick_spec)
    with pytest.raises(SpecError) as caught:
        search(spec_path, device="gpu0")
    assert str(caught.value).startswith("device: 'gpu0' is not a device")
    with pytest.raises(SpecError, match="^device: 'gpu0' is not a device"):  # Ray's driver checks the name too
        search(spec_path, device="gpu0", executor="ray")
    with pytest.raises(SpecError, match="^device: 'meta' is not a device autopeft trains on"):
        search(spec_path, device="meta")
    assert not Path(quick_spec["study_dir"]).exists()


def _no_trials(study_dir: str) -> bool:
    from autopeft.api import load_study

    return not load_study(study_dir).trials


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"components": [{"method": "lorax"}]}, r"space.components.0: unknown method 'lorax'\. Fix: use one of: .*ia3"),
        ({"method": "ia3", "rank": [2]}, r"space.ia3.rank: unknown key\. Fix: remove it or use one of: .*modules"),
        (
            {"components": [{"method": "lora"}, {"method": "ia3"}]},
            r"space: a hybrid \(combine: together\) holds at most one PEFT method, got lora, ia3",
        ),
        ({"method": "lora", "modules": ["q", "attn"]}, r"space.lora.modules.1: .*Fix: use one of the allowed values"),
        ({"method": "serial_adapter", "width": ["half"]}, r"space.serial_adapter.width: width 'half' is neither"),
        ({"method": "lora", "rank": [0, 4]}, r"space.lora.rank: give a non-empty list of integers >= 1"),
        ("no-such-preset", r"space: no search-space preset 'no-such-preset'\. Fix: use one of: .*lora-placement"),
        ("./missing.yaml", r"space: no file at .*missing\.yaml\. Fix: fix the path, or use a preset: .*lora-placement"),
    ],
)
def test_bad_space_names_file_field_and_allowed_values(tmp_path, quick_spec, space, expected):
    quick_spec["space"] = space
    with pytest.raises(SpecError, match=expected) as caught:
        load_spec(write(tmp_path, quick_spec))
    assert str(caught.value).startswith(str(tmp_path / "spec.yaml")) and "\n" not in str(caught.value)


def test_malformed_preset_file_names_it(tmp_path, quick_spec):
    preset = tmp_path / "mine.yaml"
    preset.write_text("components: [unclosed\n")
    quick_spec["space"] = str(preset)
    with pytest.raises(SpecError, match=r"mine.yaml: line \d+: malformed YAML"):
        parse_spec(quick_spec)


def test_presets_load_by_name(quick_spec):
    quick_spec["space"] = "hybrid"
    spec = parse_spec(quick_spec)
    assert [c.method for c in spec.space.components] == ["lora", "parallel_adapter"]


def test_constraints_in_the_space_and_the_study_take_the_tightest(quick_spec):
    from autopeft.driver.prepare import tightest_limit

    quick_spec["space"]["constraints"] = {"max_trainable_percent": 1.0}
    spec = parse_spec(quick_spec)
    assert tightest_limit(spec, 100_000) == (1_000, "space.constraints.max_trainable_percent")
    quick_spec["constraints"] = {"max_trainable_params": 500}
    assert tightest_limit(parse_spec(quick_spec), 100_000) == (500, "constraints.max_trainable_params")


def test_executor_shorthand_and_merge(quick_spec):
    from autopeft.spec import with_executor

    spec = parse_spec(quick_spec | {"executor": "ray"})
    assert spec.executor.kind == "ray" and spec.executor.cpus_per_trial == 1.0
    moved = with_executor(spec, {"address": "ray://head:10001", "workers": 8})
    assert (moved.executor.kind, moved.executor.address, moved.executor.workers) == ("ray", "ray://head:10001", 8)
    assert with_executor(moved, "local").executor.model_dump() == parse_spec(quick_spec).executor.model_dump()
    assert with_executor(parse_spec(quick_spec), {"address": "auto"}).executor.kind == "ray", "an address means Ray"


def test_ray_options_on_the_local_executor_are_refused(quick_spec):
    from autopeft.spec import with_executor

    with pytest.raises(SpecError, match=r"executor: address is for the ray executor"):
        parse_spec(quick_spec | {"executor": {"kind": "local", "address": "auto"}})
    for option in ({"workers": 4}, {"cpus_per_trial": 2.0}, {"gpus_per_trial": 0.5}):  # else silently ignored
        with pytest.raises(SpecError, match=rf"executor: {next(iter(option))} is for the ray executor: set `kind"):
            parse_spec(quick_spec | {"executor": {"kind": "local", **option}})
    with pytest.raises(SpecError, match=r"executor.workers: is an option of the ray executor. Fix: choose the ray"):
        with_executor(parse_spec(quick_spec), {"workers": 4})


def test_more_than_one_gpu_per_trial_is_refused_with_the_reason(quick_spec):
    """A trial trains on one GPU: reserving two would leave one idle, so it is refused up front."""
    assert parse_spec(quick_spec | {"executor": {"kind": "ray", "gpus_per_trial": 1}}).executor.gpus_per_trial == 1
    with pytest.raises(SpecError, match=r"executor.gpus_per_trial: .* Fix: give 1 or less: a trial trains on one GPU"):
        parse_spec(quick_spec | {"executor": {"kind": "ray", "gpus_per_trial": 2}})


def test_cli_workers_without_ray_names_the_fix(quick_spec, tmp_path):
    from typer.testing import CliRunner

    from autopeft.cli import app

    result = CliRunner().invoke(app, ["search", str(write(tmp_path, quick_spec)), "--workers", "4"])
    assert result.exit_code == 2
    assert "error: --workers: is an option of the ray executor. Fix: choose the ray executor" in result.output
    assert "spec.yaml" not in result.output, "the flag is wrong, not the spec file"
    result = CliRunner().invoke(
        app, ["search", str(write(tmp_path, quick_spec)), "--executor", "ray", "--gpus-per-trial", "2"]
    )
    assert result.exit_code == 2
    assert "error: --gpus-per-trial: " in result.output and "Fix: give 1 or less" in result.output


def test_a_study_may_resume_on_another_executor(quick_spec):
    from autopeft.store.study import StudyStore

    search(quick_spec, trials=1)
    spec = parse_spec(quick_spec | {"executor": {"kind": "ray", "workers": 2}})
    assert StudyStore.create(quick_spec["study_dir"], spec).spec.executor.kind == "ray"
