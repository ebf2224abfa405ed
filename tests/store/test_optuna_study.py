"""The study database as optuna's own tools read it: the study, its objectives by name, and which
parameters each trial did not use."""

from __future__ import annotations

from pathlib import Path

import optuna

import autopeft


def test_optuna_can_read_the_study(quick_spec):
    autopeft.search(quick_spec, trials=1)
    storage = f"sqlite:///{Path(quick_spec['study_dir']) / 'study.db'}"
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(study.trials) == 1 and len(study.directions) == 2


def test_objectives_are_named_for_optunas_tools(quick_spec):
    import optuna

    autopeft.search(quick_spec, trials=1)
    storage = f"sqlite:///{Path(quick_spec['study_dir']) / 'study.db'}"
    study = optuna.load_study(study_name=quick_spec["name"], storage=storage)
    assert study.metric_names == ["accuracy", "trainable_params"]
    figure = optuna.visualization.plot_pareto_front(study)
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == ("accuracy", "trainable_params")


def test_parameters_a_trial_does_not_use_are_marked(quick_spec):
    quick_spec["space"] = {"modules": ["q", "v"], "rank": [2, 4], "per_layer_rank": True}
    quick_spec["budget"]["steps"] = 1
    result = autopeft.search(quick_spec, trials=8)
    for trial in result.trials:
        components = trial.point["components"]  # none: the draw placed nothing, so every rank is unused
        targets = components[0]["settings"]["targets"] if components else {}
        layers_with_a_module = {int(name.split(".layer.")[1].split(".")[0]) for name in targets}
        ranks = {name for name in trial.params if name.endswith(".rank")}
        unused_ranks = {f"L{layer}.rank" for layer in range(3) if layer not in layers_with_a_module}
        assert set(trial.unused_params) & ranks == unused_ranks
        assert set(trial.used_params) == set(trial.params) - set(trial.unused_params)
    assert any(trial.unused_params for trial in result.trials), "the seed should leave some layer without a module"
