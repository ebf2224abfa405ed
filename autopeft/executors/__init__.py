"""Where trials run: locally, one at a time, or in parallel on Ray workers (``executors.ray``,
imported on use so that a local search never loads Ray)."""

from autopeft.executors.base import Executor, Judge, TrialRequest, TrialResult, execute
from autopeft.executors.local import LocalExecutor

__all__ = ["Executor", "Judge", "LocalExecutor", "TrialRequest", "TrialResult", "execute"]
