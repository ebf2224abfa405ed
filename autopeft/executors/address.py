"""Whether the Ray cluster a search will join answers, and answers as Ray, checked before the
study loads or writes anything: Ray itself retries a dead address, or one where something else
listens (the dashboard's HTTP port instead of the GCS port), for minutes before it says so."""

from __future__ import annotations

import importlib.util
import os
import socket

from autopeft.errors import AutopeftError

CONNECT_TIMEOUT_S = 10.0  # how long a cluster's address may take to answer before the search gives up
# Ray's GCS and its Ray Client server speak gRPC, so HTTP/2: to the client's connection preface
# and an empty SETTINGS frame, a gRPC server answers with a SETTINGS frame of its own.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
FRAME_HEADER = 9  # bytes; the frame type is the 4th
HTTP2_SETTINGS = 4
_FIX = (
    "Fix: start the cluster (`ray start --head`), correct the address (HOST:6379, the GCS port, "
    "or ray://HOST:10001), or leave it unset (and RAY_ADDRESS unset) for a local Ray"
)


def check_reachable(address: str, field: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail within about ``timeout`` seconds, in one line, when nothing answers at a
    ``[ray://]HOST:PORT`` address or what answers is not Ray; or when a ``ray://`` address
    needs Ray Client and it is not installed."""
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise AutopeftError(
            f"{field}: {address} is a Ray Client address, and Ray Client is not installed. "
            "Fix: pip install 'ray[client]', or run the search on a node of the cluster with the address auto"
        )
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray resolves them, and fails fast when it cannot
    try:
        answer = _first_frame(host.strip("[]"), int(port), timeout)
    except OSError as error:
        raise AutopeftError(
            f"{field}: nothing answers at {address} within {timeout:g} s ({error.strerror or error}). {_FIX}"
        ) from None
    if answer is not None and (len(answer) < FRAME_HEADER or answer[3] != HTTP2_SETTINGS):
        shown = repr(answer.decode("ascii", "replace").split("\r")[0]) if answer else "nothing"
        raise AutopeftError(f"{field}: what listens at {address} is not Ray (it answered {shown}). {_FIX}")


def _first_frame(host: str, port: int, timeout: float) -> bytes | None:
    """The first ``FRAME_HEADER`` bytes a server at ``host:port`` sends back to an HTTP/2 preface (fewer if it
    closes first); None where the protocol cannot be seen (Ray over TLS)."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return None
        connection.settimeout(timeout)
        connection.sendall(HTTP2_PREFACE)
        answer = b""
        try:
            while len(answer) < FRAME_HEADER and (chunk := connection.recv(FRAME_HEADER - len(answer))):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass  # silent, or hung up: whatever is there does not speak gRPC
        return answer


def check_cluster(address: str | None) -> None:
    """The cluster Ray will join: ``address``, else Ray's own ``RAY_ADDRESS`` when set (unset,
    Ray starts a local one, and there is nothing to check)."""
    if address is not None:
        check_reachable(address, "executor.address")
    elif os.environ.get("RAY_ADDRESS"):
        check_reachable(os.environ["RAY_ADDRESS"], "RAY_ADDRESS (set in the environment)")
