"""A quick look at the MLflow server ``MLFLOW_TRACKING_URI`` names, before a search starts.

MLflow retries an unreachable server for minutes (issue 39: a search stalled about 4 minutes
before trial 0); its ``/health`` endpoint answers at once when the server is up, so a few
seconds tell a dead or silent address, in one line, before any model loads.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

from autopeft.errors import AutopeftError

TIMEOUT_S = 5.0


def check_tracking_server(uri: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
    """Raise one line if an http(s) tracking URI (default: ``MLFLOW_TRACKING_URI``) does not
    answer within ``timeout_s``; a local folder, a database URI or no URI is left to MLflow."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") if uri is None else uri
    if not uri or urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return  # a server answered (a proxy's 401 or 404 included): MLflow's own errors say the rest
    except (urllib.error.URLError, OSError) as error:  # refused, unknown host, no answer in time
        reason = getattr(error, "reason", error)
        raise AutopeftError(
            f"MLFLOW_TRACKING_URI: {uri} does not answer ({reason}; waited at most {timeout_s:g} s). "
            "Fix: start the MLflow server there, correct MLFLOW_TRACKING_URI, "
            "or unset it to log to ./mlruns"
        ) from None
