"""What the store keeps on each optuna trial (its user attributes), and the typed records made
from them. Only the store writes these keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopeft.space import Point
from autopeft.spec.objectives import Objective
from autopeft.store.records import ReferenceRecord, TrialRecord

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from autopeft.executors.base import TrialResult
    from autopeft.store.stored_study import StoredTrial

# A trial's user attributes.
POINT = "point"
UNUSED = "unused_params"  # the trial's parameters its point does not use (their stored values are placeholders)
TRAINABLE = "trainable_params"
PERCENT = "percent_of_base"
SECONDS = "train_seconds"
STEPS = "steps"
MEASUREMENTS = "measurements"
FAIL_REASON = "fail_reason"
ATTEMPTS = "attempts"  # set when a worker died mid-trial and the trial ran again
WORKER = "worker"  # node:pid of the Ray worker that ran the trial
RUNGS = "rungs"  # successive halving: step (as a string) -> measurements at that rung
# The state a trial ends in, written after everything else it keeps and before optuna is told:
# a search killed in between has lost nothing, and the trial is told on resume, not run again.
FINISHED_AS = "finished_as"
RERUN_OF = "rerun_of"  # on the trial that runs an interrupted one's point again: that trial's number (its seed)
ADAPTER_CONFIG = "adapter_config"  # a pure-PEFT point's adapter_config.json, as PEFT writes it (export reads it)


def trial_record(trial: FrozenTrial | StoredTrial, objectives: list[Objective]) -> TrialRecord:
    """A trial as the user sees it, from what the store keeps of it."""
    attrs = trial.user_attrs
    values = dict(zip([o.name for o in objectives], trial.values, strict=True)) if trial.values else {}
    if trial.state.name != "FAIL":  # an interrupted trial may have written some before the kill
        values.update(attrs.get(MEASUREMENTS, {}))
    return TrialRecord(
        number=trial.number,
        state=trial.state.name.lower(),
        params=dict(trial.params),
        values=values,
        point=attrs.get(POINT),
        trainable_params=attrs.get(TRAINABLE),
        percent_of_base=attrs.get(PERCENT),
        train_seconds=attrs.get(SECONDS),
        fail_reason=attrs.get(FAIL_REASON),
        steps=attrs.get(STEPS),
        attempts=attrs.get(ATTEMPTS, 1),
        worker=attrs.get(WORKER),
        unused_params=list(attrs.get(UNUSED, [])),
        adapter_config=attrs.get(ADAPTER_CONFIG),
        rerun_of=attrs.get(RERUN_OF),
    )


def reference_record(name: str, point: Point, result: TrialResult) -> ReferenceRecord:
    """A trained (or failed) reference, from its training's result."""
    outcome = result.outcome
    if outcome is None:
        return ReferenceRecord(name, point.to_dict(), {}, fail_reason=result.fail_reason)
    return ReferenceRecord(
        name,
        point.to_dict(),
        dict(outcome.measurements),
        outcome.trainable_params,
        outcome.percent_of_base,
        outcome.train_seconds,
    )


def best_known_values(trial: FrozenTrial | StoredTrial, objectives: list[Objective]) -> list[float] | None:
    """What a surrogate learns from under successive halving: a completed trial's own
    values, else its scores at the highest rung it reached (BOHB's choice; learning from
    the first rung only chased short-training scores, see benchmarks/optimizer.py)."""
    if trial.state.name == "COMPLETE":
        return list(trial.values)
    rungs = trial.user_attrs.get(RUNGS, {})
    if not rungs:
        return None
    scores = rungs[max(rungs, key=int)]
    return [scores[o.name] for o in objectives]
