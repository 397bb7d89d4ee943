"""The dashboard app in-process, its service calls answered by the fake services' app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI
from robson_dashboard.main import DashboardService, build_service
from robson_dashboard.settings import DashboardSettings

from .fake_services import fake_services


@pytest_asyncio.fixture
async def services() -> FastAPI:
    return fake_services()


@pytest_asyncio.fixture
async def dashboard(services: FastAPI, tmp_path: Path) -> AsyncIterator[DashboardService]:
    settings = DashboardSettings(fetch_assets=False, backtests_dir=tmp_path / "backtests",
                                 service_token=None)
    service = build_service(settings, transport=httpx.ASGITransport(app=services))
    try:
        yield service
    finally:
        await service.runtime.upstreams.close()


def browser(service: DashboardService, host: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client as a browser on ``host`` would be (no lifecycle: routes only)."""
    transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False), client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8108")
