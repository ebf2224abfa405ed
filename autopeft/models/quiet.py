"""transformers 5 renamed ``is_gradient_checkpointing``; PEFT's ``get_peft_model`` and
transformers' own Trainer still read the old name, and the FutureWarning it prints on every
wrap and every training names nothing a user can change."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def library_rename_warnings_off() -> Iterator[None]:
    """Run a PEFT wrap or a Trainer's loop without the libraries' rename warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing.*", FutureWarning)
        yield
