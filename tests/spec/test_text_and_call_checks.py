"""Values read as code-like text (a regex, a format template), scales and the Python API's own
arguments: refused when the spec or the call is read, one line naming the field."""

from __future__ import annotations

import pytest

import autopeft
from autopeft.errors import UsageError
from autopeft.spec import parse_spec

DATA = {"train": "rows.jsonl", "validation_fraction": 0.2}
LM = DATA | {"task": "causal_lm"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"roles": {"q": "attention.self.(query"}}, r"^roles.q: 'attention.self.\(query' is not a regular expression"),
        (
            {"data": LM | {"prompt_template": "Review: {review A:"}},
            r"^data.prompt_template: .* is not a format template",
        ),
        ({"data": LM | {"prompt_template": "Review: {} A:"}}, r"^data.prompt_template: .* has a \{\} without a column"),
        ({"space": {"alpha_ratio": 0}}, r"^space.lora.alpha_ratio: must be above 0"),
        ({"space": {"alpha_ratio": {"low": -1.0, "high": 2.0}}}, r"^space.lora.alpha_ratio: must be above 0"),
    ],
)
def test_a_bad_regex_template_or_scale_is_one_line(spec, expected):
    with pytest.raises(autopeft.SpecError, match=expected):
        parse_spec({"data": DATA} | spec)


def test_good_ones_read():
    spec = parse_spec({"data": LM | {"prompt_template": "Q: {question}\nA: "}, "roles": {"q": r"attn\.q_proj$"}})
    assert spec.data.prompt_template == "Q: {question}\nA: " and spec.roles == {"q": r"attn\.q_proj$"}
    assert parse_spec({"data": DATA, "space": {"alpha_ratio": 0.5}}).space.components[0].alpha_ratio == 0.5


@pytest.mark.parametrize("hours", [0, -1, "2"])
def test_a_run_budget_of_no_time_is_refused_before_anything_loads(quick_spec, hours):
    with pytest.raises(autopeft.SpecError, match=r"^hours: must be a number above 0"):
        autopeft.search(quick_spec, hours=hours)
    with pytest.raises(autopeft.SpecError, match=r"^hours: must be a number above 0"):
        autopeft.resume(quick_spec["study_dir"], hours=hours)


@pytest.mark.parametrize("spec", [None, 42, [1, 2]])
def test_a_spec_of_another_kind_is_named(spec):
    with pytest.raises(UsageError, match=r"search\(\): spec is a \w+\. Fix: give a YAML path"):
        autopeft.search(spec)
