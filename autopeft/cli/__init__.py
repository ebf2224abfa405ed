"""The ``autopeft`` command: search, show, report, export, train.

Conventions: results go to stdout, progress and errors to stderr; exit code 0 on success, 1
for a runtime failure (a search whose every trial failed, a locked or damaged study), 2 for
usage and spec errors. Heavy libraries load only inside the commands, so ``--help`` is fast.
"""

from autopeft.cli import search_command, study_commands, train_command  # noqa: F401  (they register the commands)
from autopeft.cli.app import app, main

__all__ = ["app", "main"]
