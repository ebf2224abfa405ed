"""What the user writes: the study spec's schema (``schema``), reading and validating it
(``build``), the ``space:`` schema (``space``), objectives, reference rate grids, presets, YAML
reading, and validation errors turned into one line (``errors``)."""

from autopeft.spec.build import build_spec, load_spec, merged_executor, parse_spec, resolve_paths, with_executor
from autopeft.spec.schema import (
    BudgetSpec,
    ConfirmSpec,
    DataSpec,
    ExecutorSpec,
    ImportanceSpec,
    ModelOptions,
    StudySpec,
    SuccessiveHalvingSpec,
)

__all__ = [
    "BudgetSpec",
    "ConfirmSpec",
    "DataSpec",
    "ExecutorSpec",
    "ImportanceSpec",
    "ModelOptions",
    "StudySpec",
    "SuccessiveHalvingSpec",
    "build_spec",
    "load_spec",
    "merged_executor",
    "parse_spec",
    "resolve_paths",
    "with_executor",
]
