"""An MLflow server that is not there, or never answers, is found in seconds, in one line naming
MLFLOW_TRACKING_URI (issue 39: the search stalled about 4 minutes before trial 0)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopeft.cli import app
from autopeft.errors import AutopeftError
from autopeft.results.tracking_probe import check_tracking_server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_fails_the_search_in_one_line_before_anything_loads(quick_spec, tmp_path, monkeypatch):
    from conftest import write_spec

    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    ran = CliRunner().invoke(app, ["search", str(write_spec(quick_spec, tmp_path)), "--report-to", "mlflow"])
    assert time.monotonic() - started < 10
    assert ran.exit_code == 1, ran.output
    line = ran.stderr.strip()
    assert line.startswith(f"error: MLFLOW_TRACKING_URI: {uri} does not answer (") and "\n" not in line
    assert "Fix: start the MLflow server there, correct MLFLOW_TRACKING_URI, or unset it" in line
    assert not Path(quick_spec["study_dir"]).exists()


def test_a_server_that_accepts_and_never_answers_is_cut_at_the_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nothing ever reads or replies
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(AutopeftError, match=r"does not answer \(.*timed out.*waited at most 1 s\)"):
            check_tracking_server(uri, timeout_s=1.0)
        assert time.monotonic() - started < 3


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args) -> None:
        pass


def test_a_live_server_or_a_local_store_passes():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        check_tracking_server(f"http://127.0.0.1:{server.server_port}", timeout_s=5.0)
        check_tracking_server(f"http://127.0.0.1:{server.server_port}/prefix/", timeout_s=5.0)  # 404: it answers
    finally:
        server.shutdown()
    check_tracking_server("file:///tmp/mlruns")  # no server to ask
    check_tracking_server("sqlite:///mlflow.db")
