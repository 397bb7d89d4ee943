"""Each service gets a port of its own, and the launcher knows it is talking to the service it started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from robson_cli.launcher import Platform, RunningService
from robson_cli.services import by_name
from robson_kit.embedded import free_port
from robson_kit.testing.http import json_server


def _ready_execution(path: str, _: dict[str, str]) -> tuple[int, Any]:
    """Answers like a ready execution service, whatever was meant to run on its port."""
    if path == "/healthz":
        return 200, {"status": "ok", "service": "execution"}
    return 200, {"ready": True, "checks": {}}


@pytest.fixture
def execution_port() -> Iterator[int]:
    with json_server(_ready_execution) as url:
        yield int(url.rsplit(":", 1)[1])


def _platform() -> Platform:
    infra = SimpleNamespace(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:2/db")
    return Platform(infra)  # type: ignore[arg-type]


def test_free_port_never_hands_the_same_port_out_twice() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_wait_ready_on_a_port_answered_by_another_service_fails_naming_both(execution_port: int) -> None:
    position = RunningService(by_name("position"), execution_port, Path("/dev/null"))
    with pytest.raises(RuntimeError, match=rf"port {execution_port} is taken by execution.*"
                                           r"ROBSON_POSITION_HTTP_PORT"):
        _platform().wait_ready(position, timeout=10)


def test_wait_ready_on_the_service_it_started_returns(execution_port: int) -> None:
    _platform().wait_ready(RunningService(by_name("execution"), execution_port, Path("/dev/null")),
                           timeout=10)
