"""What a study hands its readers: typed records of trials and references (the store in
``study.py`` makes them from what it keeps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INTERRUPTED_REASON = "interrupted: the search stopped mid-trial"


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the user sees it."""

    number: int
    state: str
    params: dict[str, Any]
    values: dict[str, float]
    point: dict[str, Any] | None
    trainable_params: int | None
    percent_of_base: float | None
    train_seconds: float | None
    fail_reason: str | None
    steps: int | None = None
    attempts: int = 1
    worker: str | None = None
    unused_params: list[str] = field(default_factory=list)  # in ``params`` only as placeholders

    @property
    def interrupted(self) -> bool:
        """A killed search left it running; its point ran again under a later number."""
        return self.state == "fail" and self.fail_reason == INTERRUPTED_REASON

    @property
    def counts(self) -> bool:
        """Whether it counts towards the study's ``trials``: finished (completed, stopped early
        or failed), and not an interrupted run whose point ran again."""
        return self.state in ("complete", "pruned", "fail") and not self.interrupted

    @property
    def used_params(self) -> dict[str, Any]:
        """The parameters that shaped this trial's configuration (placeholders left out)."""
        return {name: value for name, value in self.params.items() if name not in self.unused_params}


@dataclass(frozen=True)
class ReferenceRecord:
    """A reference configuration of the spec, trained once with the study's proxy."""

    name: str
    point: dict[str, Any]
    values: dict[str, float]  # every measurement, objectives included; empty when it failed
    trainable_params: int | None = None
    percent_of_base: float | None = None
    train_seconds: float | None = None
    fail_reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.fail_reason is not None
