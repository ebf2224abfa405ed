"""A Ray address where something else listens, or nothing speaks, fails in bounded time with one
line before the study folder is written (issue 39, items 4, 5 and 8). Loopback servers only."""

from __future__ import annotations

import http.server
import importlib.util
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import yaml
from typer.testing import CliRunner

from autopeft.cli import app
from autopeft.errors import AutopeftError
from autopeft.executors import address as ray_address
from autopeft.executors.address import check_reachable


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # its log would land in the CLI's captured stderr
        pass


@contextmanager
def serving(answer: bytes | None):
    """A loopback server answering each connection with ``answer`` (None: an HTTP server)."""
    if answer is None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            server.server_close()
        return
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                connection.sendall(answer)  # b"": accepts, then says nothing

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_an_http_server_is_not_ray_and_fails_at_once():
    with serving(None) as port, pytest.raises(AutopeftError) as error:
        started = time.monotonic()
        check_reachable(f"127.0.0.1:{port}", "executor.address", timeout=5)
    assert time.monotonic() - started < 5
    assert f"executor.address: what listens at 127.0.0.1:{port} is not Ray (it answered '" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_silent_server_fails_within_the_bound():
    with serving(b"") as port, pytest.raises(AutopeftError, match="is not Ray .*answered nothing"):
        started = time.monotonic()
        check_reachable(f"127.0.0.1:{port}", "executor.address", timeout=1)
    assert time.monotonic() - started < 3


def test_a_grpc_server_passes():  # Ray's GCS answers the preface with a SETTINGS frame, as here
    with serving(bytes([0, 0, 0x18, 4, 0, 0, 0, 0, 0])) as port:
        check_reachable(f"127.0.0.1:{port}", "executor.address", timeout=5)


def test_a_search_naming_an_http_port_is_one_line_before_the_study_folder(quick_spec, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    with serving(None) as port:
        result = CliRunner().invoke(app, ["search", str(spec), "--ray-address", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    message = result.stderr.strip()  # (a blank line comes first: the console observer closing)
    assert message.startswith("error: executor.address: what listens at") and "\n" not in message
    assert not (tmp_path / "study").exists()


def test_a_ray_client_address_without_ray_client_is_one_line_before_the_study_folder(quick_spec, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(quick_spec))
    result = CliRunner().invoke(app, ["search", str(spec), "--ray-address", "ray://127.0.0.1:10001"])
    assert result.exit_code == 1, result.output
    assert "ray://127.0.0.1:10001 is a Ray Client address, and Ray Client is not installed" in result.stderr
    assert "pip install 'ray[client]'" in result.stderr  # square brackets are text, not console markup
    assert not (tmp_path / "study").exists()


def test_a_failed_connection_names_the_address_from_the_environment(monkeypatch):
    ray = pytest.importorskip("ray")
    from autopeft.executors import ray as ray_executor

    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    monkeypatch.setattr(ray_executor, "check_cluster", lambda address: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: (_ for _ in ()).throw(ConnectionError("refused")))
    with pytest.raises(AutopeftError, match="cannot reach a Ray cluster at '10.0.0.1:6379'"):
        ray_executor.connect(None)
    assert ray_address.CONNECT_TIMEOUT_S <= 10  # the bound the search waits at most per address


@pytest.mark.parametrize(("environment", "passed"), [(None, "local"), ("127.0.0.1:6379", None)])
def test_no_address_starts_a_ray_of_its_own(monkeypatch, environment, passed):
    """Left unset (and no RAY_ADDRESS), a search starts its own Ray rather than joining whatever
    instance already runs on the machine, as Ray's default would."""
    import ray

    from autopeft.executors import ray as ray_executor

    called = {}
    if environment is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", environment)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray_executor, "check_cluster", lambda address: None)
    monkeypatch.setattr(ray, "init", lambda **kwargs: called.update(kwargs))
    assert ray_executor.connect(None) is True
    assert called["address"] == passed
