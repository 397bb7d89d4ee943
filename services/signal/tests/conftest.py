from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from robson_kit.service import Service
from robson_kit.testing import asgi_client, service_starter
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
    async with service_starter(
        build_service,
        lambda schema_name=None, **kw: signal_settings(
            nats_url, database_url, schema_name or schema, **kw
        ),
    ) as start:
        yield start


def client(service: Service) -> httpx.AsyncClient:
    return asgi_client(service, "http://signal")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[Any]:
    """The local fake Binance (REST + WebSocket) the live feed is pointed at."""
    from .fake_binance import FakeBinance

    server = await FakeBinance().start()
    try:
        yield server
    finally:
        await server.stop()
