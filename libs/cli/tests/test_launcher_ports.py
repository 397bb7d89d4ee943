"""Each service gets a port of its own, and the launcher knows it is talking to the service it started."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from robson_cli.launcher import Platform, RunningService
from robson_cli.services import by_name
from robson_kit.embedded import free_port


class _ExecutionImpostor(BaseHTTPRequestHandler):
    """Answers like a ready execution service, whatever was meant to run on its port."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "service": "execution"} if self.path == "/healthz"
                          else {"ready": True, "checks": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def execution_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExecutionImpostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_free_port_never_hands_the_same_port_out_twice() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_wait_ready_on_a_port_answered_by_another_service_fails_naming_both(execution_port: int) -> None:
    infra = SimpleNamespace(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:2/db")
    platform = Platform(infra)  # type: ignore[arg-type]
    position = RunningService(by_name("position"), execution_port, Path("/dev/null"))
    with pytest.raises(RuntimeError, match=rf"port {execution_port} is taken by execution.*"
                                           r"ROBSON_POSITION_HTTP_PORT"):
        platform.wait_ready(position, timeout=10)


def test_wait_ready_on_the_service_it_started_returns(execution_port: int) -> None:
    infra = SimpleNamespace(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:2/db")
    platform = Platform(infra)  # type: ignore[arg-type]
    platform.wait_ready(RunningService(by_name("execution"), execution_port, Path("/dev/null")), timeout=10)
