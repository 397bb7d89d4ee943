from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from robson_kit.service import Service
from robson_signal.main import build_service
from robson_signal.settings import SignalSettings

FIXTURES = Path(__file__).parent / "fixtures"
REAL_FILE = FIXTURES / "BTCUSDT-5m-2024-01.csv"


def signal_settings(
    nats_url: str, database_url: str, schema: str, **overrides: Any
) -> SignalSettings:
    return SignalSettings(
        nats_url=nats_url,
        database_url=database_url,
        db_schema=schema,
        outbox_poll_seconds=0.1,
        **overrides,
    )


@pytest_asyncio.fixture
async def make_service(
    bus, nats_url: str, database_url: str, schema: str
) -> AsyncIterator[Callable[..., Any]]:
    """Start signal services (stopped at the end); each call may override settings."""
    started: list[Service] = []

    async def start(schema_name: str | None = None, **overrides: Any) -> Service:
        service = build_service(
            signal_settings(nats_url, database_url, schema_name or schema, **overrides)
        )
        await service.start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            if service.started:
                await service.stop()


def client(service: Service) -> httpx.AsyncClient:
    app = service.app(manage_lifecycle=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://signal")
