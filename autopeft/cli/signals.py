"""SIGTERM as Ctrl-C: what Slurm, Kubernetes, Ray and ``kill`` send first stops a command the way
Ctrl-C does (its one line and resume hint), instead of ending the process without a word."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


def stop_on_sigterm() -> list[int]:
    """From now on, SIGTERM raises ``KeyboardInterrupt``. The returned list gets the signal's
    number when one came, so that the command can exit with the shells' code for it (143, not 130)."""
    received: list[int] = []

    def stop(number: int, _frame: object) -> None:
        received.append(number)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return received


@contextmanager
def sigterm_as_interrupt() -> Iterator[list[int]]:
    """``stop_on_sigterm`` while the block runs; the handler before it afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield stop_on_sigterm()
    finally:
        signal.signal(signal.SIGTERM, before)
