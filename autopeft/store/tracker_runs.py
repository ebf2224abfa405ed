"""Where a study is tracked: the experiment tracker's ids of the study's own run, kept in the
study, so that a resumed search logs into the same run (not a second one of the same name)
and an export can name it. Mixed into ``StudyStore``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

TRACKER_RUNS = "tracker_runs"  # service ("mlflow", "wandb") -> its ids of the study's run, e.g. {"run_id": ...}


class TrackerRuns:
    """Reads and writes the study's tracker run ids."""

    study: optuna.Study

    def _attr(self, name: str) -> Any: ...  # StudyStore's: a study attribute, None before the study exists

    def tracker_runs(self) -> dict[str, dict[str, str]]:
        """Every service's ids of the study's run (empty for a study never tracked)."""
        return dict(self._attr(TRACKER_RUNS) or {})

    def tracker_run(self, service: str) -> dict[str, str] | None:
        """``service``'s ids of the study's run, or None when it never logged this study."""
        return self.tracker_runs().get(service)

    def set_tracker_run(self, service: str, ids: Mapping[str, str]) -> None:
        """Keep ``service``'s ids of the study's run (a resume reuses them)."""
        self.study.set_user_attr(TRACKER_RUNS, self.tracker_runs() | {service: {k: str(v) for k, v in ids.items()}})
