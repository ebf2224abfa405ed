"""What a study hands its readers: typed records of trials and references (the store in
``study.py`` makes them from what it keeps)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autopeft.errors import UsageError
from autopeft.spec.objectives import OBJECTIVES, Objective
from autopeft.spec.rate_grids import grid_name

if TYPE_CHECKING:
    from peft import PeftConfig

INTERRUPTED_REASON = "interrupted: the search stopped mid-trial"
COUNTS = ("trainable_params",)  # measurements that are counts: ints, though optuna hands back floats


def _counts_as_ints(values: dict[str, Any]) -> None:
    for name in COUNTS:
        if isinstance(values.get(name), float):
            values[name] = int(values[name])


def training_seed_number(number: int, rerun_of: int | None) -> int:
    """The trial number a trial's training seed is drawn from (the study's seed plus it): its
    own, or for the rerun of an interrupted trial that trial's, so a resume changes no score."""
    return number if rerun_of is None else rerun_of


@dataclass(frozen=True)
class Confirmation:
    """A configuration trained again with new seeds after the search (the confirmation stage):
    its measurements per seed, unbiased by the selection that picked it."""

    seeds: list[int]
    runs: list[dict[str, float]]  # measurements of each finished run, in seed order; {} for a failed one
    steps: int
    fail_reasons: list[str] = field(default_factory=list)

    def scores(self, name: str) -> list[float]:
        return [run[name] for run in self.runs if name in run]

    def run_of(self, seed: int) -> tuple[dict[str, float], str | None]:
        """The measurements of the run of ``seed`` ({} where it failed) and why it failed, if it did."""
        index = self.seeds.index(seed)
        measurements = self.runs[index]
        failed_before = sum(1 for run in self.runs[:index] if not run)  # fail_reasons: the failed runs, in seed order
        return measurements, None if measurements else self.fail_reasons[failed_before]

    def mean(self, name: str) -> float | None:
        scores = self.scores(name)
        return statistics.fmean(scores) if scores else None

    def standard_error(self, name: str) -> float | None:
        """Between seeds: the spread of the runs over the square root of their number."""
        scores = self.scores(name)
        return statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else None


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
    confirmed: Confirmation | None = None  # the confirmation stage's runs, when it chose this trial
    # The adapter_config.json `autopeft export` writes for it; None where PEFT lacks the method.
    adapter_config: dict[str, Any] | None = field(default=None, repr=False)
    rerun_of: int | None = None  # the interrupted trial whose point (and seed) this one ran again

    def __post_init__(self) -> None:
        _counts_as_ints(self.values)

    @property
    def seed_number(self) -> int:
        """The trial number its training seed is drawn from (the study's seed plus it): an
        interrupted trial's rerun trains as that trial would have, so a resume changes no score."""
        return training_seed_number(self.number, self.rerun_of)

    def peft_config(self) -> PeftConfig:
        """The ``peft.PeftConfig`` export writes as ``adapter_config.json``, without a folder."""
        return peft_config_of(f"trial {self.number}", f"--trial {self.number}", self.adapter_config, self.point)

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
    confirmed: Confirmation | None = None  # the confirmation stage's runs (the best grid member only)
    extended: str | None = None  # a member added past its grid's edge (driver/reference_grid.py): which, why
    adapter_config: dict[str, Any] | None = field(default=None, repr=False)  # as TrialRecord's

    def __post_init__(self) -> None:
        _counts_as_ints(self.values)

    @property
    def failed(self) -> bool:
        return self.fail_reason is not None

    def peft_config(self) -> PeftConfig:
        """The ``peft.PeftConfig`` export writes as ``adapter_config.json``, without a folder."""
        return peft_config_of(f"reference {self.name}", f"--reference {self.name}", self.adapter_config, self.point)


def peft_config_of(
    label: str, export_flag: str, config: dict[str, Any] | None, point: dict[str, Any] | None
) -> PeftConfig:
    """A kept adapter config as PEFT's object; a one-line error where there is none (a method
    PEFT lacks, or a study from before configs were kept)."""
    if config is None:
        methods = "+".join(c["method"] for c in (point or {}).get("components", [])) or "no method"
        raise UsageError(
            f"{label} ({methods}) has no PEFT config: PEFT lacks its method (bottleneck adapters, "
            "autopeft's prefix, bias tuning, hybrids) or the study kept none. "
            f"Fix: `autopeft export STUDY {export_flag} --out DIR` writes its config "
            "(autopeft_adapter.json where PEFT lacks the method; autopeft.load_adapter reads either)"
        )
    from peft import PeftConfig  # here: reading a study loads no PEFT

    return PeftConfig.from_peft_type(**config)


def tuned_references(
    references: list[ReferenceRecord], objective: Objective | str
) -> list[tuple[ReferenceRecord, int]]:
    """Each reference at its best learning rates: the grid member with the best proxy score
    (the first on ties), and how many proxy trainings the grid cost. ``objective``: the
    metric's objective (a custom metric's, from ``SearchResult.objective``) or a built-in's name."""
    objective = OBJECTIVES[objective] if isinstance(objective, str) else objective  # a name: a built-in metric
    metric = objective.name
    groups: dict[str, list[ReferenceRecord]] = {}
    for record in references:
        groups.setdefault(grid_name(record.name), []).append(record)
    tuned = []
    for members in groups.values():
        trained = [r for r in members if not r.failed]
        best = max(trained, key=lambda r: objective.maximized(r.values[metric])) if trained else members[0]
        tuned.append((best, len(members)))
    return tuned
