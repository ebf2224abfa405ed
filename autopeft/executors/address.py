"""Whether the Ray cluster a search will join answers, checked before the study loads or
writes anything: Ray itself retries a dead address for minutes before it says so."""

from __future__ import annotations

import os
import socket

from autopeft.errors import AutopeftError

CONNECT_TIMEOUT_S = 10.0  # how long a cluster's address may take to answer before the search gives up


def check_reachable(address: str, field: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail at once, in one line, when nothing answers at a ``[ray://]HOST:PORT`` address."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray resolves them, and fails fast when it cannot
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise AutopeftError(
            f"{field}: nothing answers at {address} within {timeout:g} s ({error.strerror or error}). "
            "Fix: start the cluster (`ray start --head`), correct the address, or leave it unset "
            "(and RAY_ADDRESS unset) for a local Ray"
        ) from None


def check_cluster(address: str | None) -> None:
    """The cluster Ray will join: ``address``, else Ray's own ``RAY_ADDRESS`` when set (unset,
    Ray starts a local one, and there is nothing to check)."""
    if address is not None:
        check_reachable(address, "executor.address")
    elif os.environ.get("RAY_ADDRESS"):
        check_reachable(os.environ["RAY_ADDRESS"], "RAY_ADDRESS (set in the environment)")
