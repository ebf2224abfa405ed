"""Where trials run: locally, one at a time, or (later) on Ray workers."""

from autopeft.executors.base import Executor, TrialRequest, TrialResult, execute
from autopeft.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "TrialRequest", "TrialResult", "execute"]
