"""What a study knows beside its trials: the model's labels and head, the baseline a trial must
beat, the data's fingerprints and the importance scores that narrowed the space. Mixed into
``StudyStore``, which keeps them as optuna study attributes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from autopeft.errors import UsageError

if TYPE_CHECKING:
    import optuna

    from autopeft.spec import StudySpec

LABEL_NAMES = "label_names"  # the task's labels, in the order of the head's outputs
HEAD_MODULES = "head_modules"  # the base model's task head, trained in full by every trial
IMPORTANCE = "importance"  # {"scores": module -> score, "pruned": modules switched off}
BASELINE = "baseline"  # {"metrics": the trivial predictor's (or untuned model's), "validation_rows": n}
DATA_DIGESTS = "data_digests"  # split -> fingerprint of its rows as tokenized (EncodedSplit.digest)


class StudyFacts:
    """Reads and writes the study-level facts."""

    study: optuna.Study
    spec: StudySpec

    def _attr(self, name: str) -> Any: ...  # StudyStore's: a study attribute, None before the study exists

    def set_model_facts(self, label_names: list[str], head_modules: list[str]) -> None:
        """What export needs to know of the data and model without loading them."""
        self.study.set_user_attr(LABEL_NAMES, list(label_names))
        self.study.set_user_attr(HEAD_MODULES, list(head_modules))

    def label_names(self) -> list[str] | None:
        return self._attr(LABEL_NAMES)

    def head_modules(self) -> list[str]:
        return self._attr(HEAD_MODULES) or []

    def set_baseline(self, metrics: Mapping[str, float], validation_rows: int, classes: int | None = None) -> None:
        """What a trial must beat to show the model learns the task, and on how many validation
        rows (of how many classes) it was scored (kept, so that ``show`` can judge a finished study too)."""
        saved = {"metrics": dict(metrics), "validation_rows": int(validation_rows)}
        self.study.set_user_attr(BASELINE, saved | ({} if classes is None else {"validation_classes": classes}))

    def validation_classes(self) -> int | None:
        """Classes among the scored validation rows (None: not classification, or an older study)."""
        return (self._attr(BASELINE) or {}).get("validation_classes")

    def check_data(self, digests: Mapping[str, str], accept_changed: bool = False) -> None:
        """Keep the data's fingerprints on a first run; on a later one, refuse rows that changed
        (trials scored on other rows cannot share a front), unless ``accept_changed``."""
        saved = self._attr(DATA_DIGESTS)
        changed = [split for split, digest in (saved or {}).items() if digests.get(split) != digest]
        if changed and not accept_changed:
            split = changed[0]
            raise UsageError(
                f"data.{split}: {getattr(self.spec.data, split, None) or 'the ' + split + ' rows'} changed since "
                "this study's trials were scored on it. Fix: restore the file, start a new study, or pass "
                "--accept-changed-data to go on with the new rows (the front then mixes both)"
            )
        if saved != dict(digests):
            self.study.set_user_attr(DATA_DIGESTS, dict(digests))

    def baseline(self) -> tuple[dict[str, float] | None, int | None]:
        """The stored baseline metrics and validation rows; (None, None) before the first run."""
        saved = self._attr(BASELINE) or {}
        return saved.get("metrics"), saved.get("validation_rows")

    def set_importance(self, scores: Mapping[str, float], switched_off: frozenset[str], score: str) -> None:
        """Keep the scores (and which score), and the modules switched off: a resume searches the same space."""
        self.study.set_user_attr(IMPORTANCE, {"scores": dict(scores), "pruned": sorted(switched_off), "score": score})

    def importance_score(self) -> str:
        """Which score ranked the modules (studies before the choice used gradient energy)."""
        return (self._attr(IMPORTANCE) or {}).get("score", "gradient_energy")

    def importance(self) -> tuple[dict[str, float], frozenset[str]] | None:
        """The stored scores and switched-off modules, or None when the study narrows nothing."""
        saved = self._attr(IMPORTANCE)
        if not saved:
            return None
        return saved["scores"], frozenset(saved["pruned"])
