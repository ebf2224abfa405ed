"""A study's hypervolume history: written as the search tells each completed trial, read
back by show and report. Reading needs no botorch when the stored history is complete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from autopeft.spec.objectives import maximized_vector

if TYPE_CHECKING:
    import numpy as np
    import optuna
    from optuna.trial import FrozenTrial

    from autopeft.spec.objectives import Objective

# The study's user attributes.
HV_REFERENCE = "hypervolume_reference"  # objective name -> the worst value that still counts
HV_HISTORY = "hypervolume_history"  # [trial number, hypervolume of the front so far]


class HypervolumeHistory:
    """The hypervolume part of ``StudyStore``, whose ``study``, ``trials``, ``_attr`` and
    ``objectives`` it reads."""

    objectives: list[Objective]
    study: optuna.Study
    _front_rows: list[np.ndarray] | None = None  # completed trials' values, for the history

    def set_hypervolume_reference(self, reference: Mapping[str, float]) -> None:
        """Fix the study's hypervolume reference once, so its history stays comparable."""
        if HV_REFERENCE not in self.study.user_attrs:
            self.study.set_user_attr(HV_REFERENCE, dict(reference))

    def _vector(self, values: list[float]) -> np.ndarray:
        return maximized_vector(self.objectives, dict(zip([o.name for o in self.objectives], values, strict=True)))

    def hypervolume_history(self) -> list[tuple[int, float]]:
        """(trial number, hypervolume of the completed trials up to it), in the optimizer's
        geometry (log trainable parameters) against the study's fixed reference: the history the
        search stored where it lists the completed trials in order, else computed (botorch)."""
        reference = self._attr(HV_REFERENCE)
        if reference is None:
            return []
        complete = [t for t in self.trials() if t.state.name == "COMPLETE"]
        stored = [(int(number), float(value)) for number, value in self._attr(HV_HISTORY) or []]
        if [number for number, _ in stored] == [t.number for t in complete]:
            return stored  # the same values: each entry is the hypervolume of the trials up to it
        import numpy as np

        from autopeft.optim.hypervolume import hypervolume  # botorch: only for a history not stored in full

        reference = maximized_vector(self.objectives, reference)
        rows = [self._vector(t.values) for t in complete]
        return [(t.number, hypervolume(np.array(rows[: i + 1]), reference)) for i, t in enumerate(complete)]

    def _extend_history(self, trial: FrozenTrial) -> None:
        """Append the new trial's entry to the stored history (where the dashboard and other
        tools read it) without reading every trial again."""
        import numpy as np

        from autopeft.optim.hypervolume import hypervolume  # botorch: a writer's need, not a reader's

        reference = self.study.user_attrs.get(HV_REFERENCE)
        if reference is None:
            return
        if self._front_rows is None:
            self._front_rows = [self._vector(t.values) for t in self.trials() if t.state.name == "COMPLETE"]
        else:
            self._front_rows.append(self._vector(trial.values))
        stored = list(self.study.user_attrs.get(HV_HISTORY, []))
        value = hypervolume(np.array(self._front_rows), maximized_vector(self.objectives, reference))
        self.study.set_user_attr(HV_HISTORY, [*stored, [trial.number, value]])
