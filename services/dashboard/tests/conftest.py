"""The dashboard app in-process, its service calls answered by the fake services' app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from robson_dashboard.main import DashboardService, build_service
from robson_dashboard.settings import DashboardSettings
from robson_kit.bus import Bus
from robson_kit.testing.auth import PUBLIC_PEM

from .fake_services import fake_services


@pytest_asyncio.fixture
async def services() -> FastAPI:
    return fake_services()


@pytest_asyncio.fixture
async def dashboard(services: FastAPI, tmp_path: Path) -> AsyncIterator[DashboardService]:
    """Without a public key (a platform without tokens): the fake services alone judge these
    tests' made-up tokens."""
    settings = DashboardSettings(fetch_assets=False, backtests_dir=tmp_path / "backtests",
                                 service_token=None, auth_public_key="")
    service = build_service(settings, transport=httpx.ASGITransport(app=services))
    try:
        yield service
    finally:
        await service.runtime.upstreams.close()


@pytest_asyncio.fixture
async def secured(services: FastAPI, tmp_path: Path, bus: Bus, nats_url: str, database_url: str,
                  schema: str) -> AsyncIterator[DashboardService]:
    """Started on the real bus and database with auth on: the test session's public key, the
    revocation bucket as ``robson token revoke`` writes it."""
    settings = DashboardSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                 fetch_assets=False, backtests_dir=tmp_path / "backtests",
                                 service_token=None, auth_public_key=PUBLIC_PEM)
    service = build_service(settings, transport=httpx.ASGITransport(app=services))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def browser(service: DashboardService, host: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client as a browser on ``host`` would be (no lifecycle: routes only)."""
    transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False), client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8108")


async def open_stream(dashboard: DashboardService, session_id: str) -> tuple[asyncio.Queue[Any], asyncio.Task[None]]:
    """GET /api/stream as a browser holding the cookie would (raw ASGI: the response never ends)."""
    app = dashboard.app(manage_lifecycle=False)
    sent: asyncio.Queue[Any] = asyncio.Queue()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the browser stays connected
        return {"type": "http.disconnect"}

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/api/stream", "raw_path": b"/api/stream", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8108),
             "headers": [(b"host", b"127.0.0.1:8108"), (b"cookie", f"robson_session={session_id}".encode())]}
    return sent, asyncio.create_task(app(scope, receive, sent.put))
