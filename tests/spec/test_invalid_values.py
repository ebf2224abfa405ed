"""Values of the wrong kind or out of range are refused naming the field."""

from __future__ import annotations

import pytest

import autopeft


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"trials": True}, "trials: true/false is not a value here. Fix: write a number"),
        ({"budget": {"steps": True}}, "budget.steps: true/false is not a value here"),
        ({"space": {"rank": [True, 4]}}, r"space.lora.rank.0: true/false is not a value here"),
        ({"space": {"learning_rate": -0.001}}, r"space.learning_rate: learning rates are above 0"),
        ({"space": {"head_learning_rate": {"low": 0, "high": 1e-2}}}, r"space.head_learning_rate: learning rates"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(quick_spec, change, expected):
    from autopeft.spec import parse_spec

    spec = quick_spec | {
        key: (quick_spec[key] | value if isinstance(value, dict) else value) for key, value in change.items()
    }
    with pytest.raises(autopeft.SpecError, match=expected):
        parse_spec(spec)
