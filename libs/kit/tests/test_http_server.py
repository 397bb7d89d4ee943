"""The services' HTTP server: uvicorn with one wakeup a second while idle, stopped at once by a
shutdown signal, its Date header refreshed on every tick."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
import uvicorn
from robson_kit import http_server
from robson_kit.embedded import free_port
from robson_kit.http_server import QuietServer


async def _app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _started(port: int) -> tuple[QuietServer, asyncio.Task[None]]:
    server = QuietServer(uvicorn.Config(_app, host="127.0.0.1", port=port, log_config=None,
                                        lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            return server, task
        await asyncio.sleep(0.025)
    raise AssertionError("the server did not start")


def _stop(server: QuietServer) -> None:
    """As SIGTERM would; uvicorn re-raises a captured signal once it has stopped (so the
    process ends as signalled): not this test process."""
    server.handle_exit(signal.SIGTERM, None)
    server._captured_signals.clear()


async def test_quiet_server_with_a_long_tick_stops_at_once_on_a_shutdown_signal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_server, "TICK_SECONDS", 30.0)
    port = free_port()
    server, task = await _started(port)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).text == "ok"
    _stop(server)
    await asyncio.wait_for(task, timeout=5)  # without the wake-up: the 30-s tick


async def test_quiet_server_refreshes_the_date_header_on_every_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_server, "TICK_SECONDS", 0.01)
    counters: list[int] = []
    on_tick = QuietServer.on_tick

    async def spy(self: QuietServer, counter: int) -> bool:
        counters.append(counter)
        return await on_tick(self, counter)

    monkeypatch.setattr(QuietServer, "on_tick", spy)
    port = free_port()
    server, task = await _started(port)
    while len(counters) < 5:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/")
    _stop(server)
    await asyncio.wait_for(task, timeout=5)
    assert "date" in response.headers
    assert all(c % 10 == 0 for c in counters), counters  # uvicorn refreshes Date on those
    assert len(set(counters)) == len(counters)
