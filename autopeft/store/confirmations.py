"""The confirmation stage's part of a study on disk: which configurations it chose and each
run it made, kept in one study attribute (runs are added one by one, so a killed stage
resumes without training a finished run again). Mixed into ``StudyStore``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from autopeft.store.records import Confirmation, ReferenceRecord, TrialRecord

if TYPE_CHECKING:
    import optuna

CONFIRMED = "confirmed"  # {"chosen": [key...], "runs": {key: {seed (str): {"measurements"|"fail_reason", "steps"}}}}
Record = TypeVar("Record", TrialRecord, ReferenceRecord)


def trial_key(number: int) -> str:
    return f"trial {number}"


def reference_key(name: str) -> str:
    return f"reference {name}"


def confirmation_run_key(key: str, seed: int) -> str:
    """The name of one confirmation run of ``key`` (``trial N``, ``reference NAME``), as trackers log it."""
    return f"confirmation {key} seed {seed}"


def record_key(record: TrialRecord | ReferenceRecord) -> str:
    return reference_key(record.name) if isinstance(record, ReferenceRecord) else trial_key(record.number)


class ConfirmedRuns:
    """Reads and writes the confirmation stage's choices and runs."""

    study: optuna.Study

    def _attr(self, name: str) -> Any: ...  # StudyStore's: a study attribute, None before the study exists

    def _confirmed(self) -> dict[str, Any]:
        return dict(self._attr(CONFIRMED) or {})

    def chosen_for_confirmation(self) -> list[str]:
        """The keys (``trial N``, ``reference NAME``) the stage chose, in the order it chose them."""
        return list(self._confirmed().get("chosen", []))

    def choose_for_confirmation(self, keys: list[str]) -> None:
        """Add ``keys`` to the chosen ones (kept: a resumed study confirms the same ones, and
        more trials later only add to them)."""
        saved = self._confirmed()
        chosen = saved.get("chosen", [])
        self.study.set_user_attr(CONFIRMED, saved | {"chosen": chosen + [k for k in keys if k not in chosen]})

    def add_confirmation_run(
        self, key: str, seed: int, steps: int, measurements: Mapping[str, float] | None, fail_reason: str | None
    ) -> None:
        """Keep one finished (or failed) confirmation run."""
        saved = self._confirmed()
        runs = dict(saved.get("runs", {}))
        run = {"steps": steps} | (
            {"fail_reason": fail_reason} if measurements is None else {"measurements": dict(measurements)}
        )
        runs[key] = dict(runs.get(key, {})) | {str(seed): run}
        self.study.set_user_attr(CONFIRMED, saved | {"runs": runs})

    def confirmation_runs(self, key: str) -> dict[int, dict[str, Any]]:
        """Seed -> run, for the runs kept so far."""
        return _by_seed(self._confirmed().get("runs", {}).get(key, {}))

    def confirmation(self, key: str) -> Confirmation | None:
        return _confirmation(self.confirmation_runs(key))

    def with_confirmations(self, records: list[Record]) -> list[Record]:
        """``records`` with their confirmation runs attached, where they have some (the study
        attribute read once, not once a record)."""
        runs = self._confirmed().get("runs", {})
        return [replace(r, confirmed=_confirmation(_by_seed(runs.get(record_key(r), {})))) for r in records]


def _by_seed(stored: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(seed): run for seed, run in stored.items()}


def _confirmation(runs: dict[int, dict[str, Any]]) -> Confirmation | None:
    """A configuration's kept runs as a record; None when it has none."""
    if not runs:
        return None
    seeds = sorted(runs)
    return Confirmation(
        seeds=seeds,
        runs=[runs[s].get("measurements", {}) for s in seeds],
        steps=max(runs[s]["steps"] for s in seeds),
        fail_reasons=[runs[s]["fail_reason"] for s in seeds if "fail_reason" in runs[s]],
    )
