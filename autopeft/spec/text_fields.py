"""Spec strings that are read as code-like text (a regular expression, a format template):
checked when the spec is read, so a typo is one line naming the field, not a traceback later."""

from __future__ import annotations

import re
import string
from typing import Annotated

from pydantic import AfterValidator


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{pattern!r} is not a regular expression ({error})") from None
    return pattern


def _formats(template: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(f"{template!r} is not a format template ({error}); write columns as {{name}}") from None
    if "" in fields or any(name.isdigit() for name in fields):
        raise ValueError(f"{template!r} has a {{}} without a column name; write columns as {{name}}")
    return template


ModuleRegex = Annotated[str, AfterValidator(_compiles)]  # roles: a module name relative to a layer
PromptTemplate = Annotated[str, AfterValidator(_formats)]  # causal_lm: a prompt built from columns
