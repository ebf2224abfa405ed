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
        (
            {"space": {"learning_rate": {"low": 1e-3, "high": 1e-2, "bogus": 1}}},
            r"^space.learning_rate.bogus: unknown key",
        ),
        ({"space": [1, 2]}, r"^space: Input should be a valid dictionary\. Fix: .*or a preset's name"),
        ({"space": {"layers": []}}, r"^space.lora.layers: no layers: .* Fix: list layer indices or write all$"),
        ({"space": {"rank": -4}}, r"^space.lora.rank: give a non-empty list of integers >= 1"),
        ({"space": {"method": "parallel_adapter", "width": ["hidden/0"]}}, r"width 'hidden/0': N in hidden/N is 1"),
        ({"space": {"method": "serial_adapter", "width": [0]}}, r"^space.serial_adapter.width: every width is 0"),
        ({"confirm": "yes"}, r"^confirm: got 'yes'\. Fix: write true, false or its keys"),  # not read as true
        ({"confirm": 1}, r"^confirm: got 1\. Fix: write true, false"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(quick_spec, change, expected):
    from autopeft.spec import parse_spec

    spec = quick_spec | {
        key: (quick_spec[key] | value if isinstance(value, dict) else value) for key, value in change.items()
    }
    with pytest.raises(autopeft.SpecError, match=expected):
        parse_spec(spec)


def test_a_single_size_in_a_space_is_fixed(quick_spec):
    """As the README says of every knob: ``rank: 4`` is ``rank: [4]``."""
    from autopeft.spec import parse_spec

    (lora,) = parse_spec(quick_spec | {"space": quick_spec["space"] | {"rank": 4}}).space.components
    assert lora.rank == [4]


def test_a_reference_placed_in_no_layer_is_refused_naming_it(quick_spec):
    from autopeft.spec import parse_spec

    reference = {"method": "lora", "modules": ["q"], "rank": 4, "layers": []}
    with pytest.raises(autopeft.SpecError, match=r"^references.r.lora.layers: no layers"):
        parse_spec(quick_spec | {"references": {"r": reference}})


def test_a_validation_file_and_a_fraction_together_are_refused(quick_spec):
    """The fraction would be ignored silently: the search scores on the file."""
    from autopeft.spec import build_spec

    both = quick_spec | {"data": quick_spec["data"] | {"validation_fraction": 0.1}}
    with pytest.raises(autopeft.SpecError, match=r"^data.validation_fraction: is ignored when data.validation"):
        build_spec(both)


def test_a_confirmation_shorter_than_the_proxy_is_refused(quick_spec):
    """Confirming a configuration with less training than the run that put it forward would rank
    it by a noisier score, not a surer one."""
    from autopeft.spec import build_spec

    steps = quick_spec["budget"]["steps"]
    short = quick_spec | {"confirm": {"steps": steps - 1}}
    with pytest.raises(autopeft.SpecError, match=rf"^confirm.steps: {steps - 1} is below budget.steps \({steps}\)"):
        build_spec(short)
    assert build_spec(quick_spec | {"confirm": {"steps": steps}}).confirm.steps == steps


def test_importance_and_its_old_name_together_are_named_as_such(quick_spec):
    from autopeft.spec import parse_spec

    both = quick_spec | {"importance": {"use": "prune"}, "prune": {"keep": 0.5}}
    with pytest.raises(autopeft.SpecError, match=r"^prune: given beside importance, whose old name it is\. Fix: keep"):
        parse_spec(both)
    assert parse_spec(quick_spec | {"prune": {"keep": 0.5}}).importance.keep == 0.5, "the old name alone reads"
