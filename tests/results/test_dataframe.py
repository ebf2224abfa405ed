"""The Python result in a notebook: one DataFrame row per trial and reference, and a short repr."""

from __future__ import annotations

import autopeft


def test_to_pandas_has_a_row_per_trial_and_reference_with_used_params(quick_spec):
    spec = quick_spec | {
        "trials": 3,
        "references": {
            "r2": {
                "method": "lora",
                "modules": ["q", "v"],
                "rank": 2,
                "learning_rate": 1e-3,
                "head_learning_rate": 3e-3,
            }
        },
    }
    result = autopeft.search(spec)
    frame = result.to_pandas()
    assert list(frame["kind"]) == ["trial"] * 3 + ["reference"]
    assert list(frame["number"][:3]) == [0, 1, 2] and frame["name"].iloc[3] == "r2"
    assert list(frame["accuracy"][:3]) == [t.values["accuracy"] for t in result.trials]
    assert frame["trainable_params"].iloc[3] == result.references[0].trainable_params
    assert set(frame.loc[frame["pareto"], "number"]) == {t.number for t in result.pareto}
    assert {"params_learning_rate", "confirmed_accuracy"} <= set(frame.columns)
    text = repr(result)
    assert len(text) < 200 and "3 trials" in text and "1 references" in text
