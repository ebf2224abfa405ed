"""Errors a user can act on: each names the field at fault and the fix, on one line."""

from __future__ import annotations

import shlex


class AutopeftError(Exception):
    """Base class for errors shown to the user as one line, without a traceback."""


class SpecError(AutopeftError):
    """A study spec (or a value derived from it) is wrong.

    The message always reads ``<source>: <field>: <problem>. Fix: <fix>`` so the user
    knows where to look and what to change.
    """

    def __init__(self, field: str, problem: str, fix: str, source: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return f"{prefix}{self.field}: {self.problem}. Fix: {self.fix}"

    def with_source(self, source: str) -> SpecError:
        """The same error, attributed to a spec file."""
        return SpecError(self.field, self.problem, self.fix, source=source)


class TrialFailed(AutopeftError):
    """A trial could not produce a result (diverged, out of memory, invalid point).

    The study records the trial as failed with ``reason`` and goes on.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UsageError(AutopeftError):
    """A command was called wrongly (a trial that does not exist, a folder that is not a study):
    the CLI exits with code 2, as for spec errors, where runtime failures exit with 1."""


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped by Ctrl-C or SIGTERM (what Slurm, Kubernetes and Ray send first): the
    trials in flight are marked interrupted and run first when the study is resumed. Still a
    KeyboardInterrupt (Python code stops as it would); it carries the study folder, and the CLI
    prints it as one line with the resume command."""

    def __init__(self, study_dir: str) -> None:
        self.study_dir = study_dir
        resume = resume_command(study_dir)
        super().__init__(f"interrupted: the trials in flight will run again. Fix: `{resume}` continues the study")


def resume_command(study_dir: object) -> str:
    """The command that continues a study, its path quoted for a shell (spaces, quotes, ``$``)."""
    return f"autopeft search --resume {shlex.quote(str(study_dir))}"
