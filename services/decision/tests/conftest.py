from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio
from robson_decision.main import build_service
from robson_decision.settings import DecisionSettings
from robson_kit.service import Service
from robson_kit.testing import asgi_client, service_starter

from .fake_llm import FakeLlm


@pytest_asyncio.fixture(scope="module")
async def fake_llm() -> AsyncIterator[FakeLlm]:
    server = await FakeLlm().start()
    try:
        yield server
    finally:
        await server.stop()


def settings_for(
    nats_url: str, database_url: str, schema: str, **overrides: Any
) -> DecisionSettings:
    values: dict[str, Any] = dict(
        nats_url=nats_url,
        database_url=database_url,
        db_schema=schema,
        ack_wait_seconds=2,
        max_deliver=3,
        log_level="WARNING",
        approval_poll_seconds=0.05,
        llm_timeout_seconds=0.5,
        llm_max_attempts=3,
        llm_backoff_initial_seconds=0.02,
        llm_backoff_max_seconds=0.1,
        outbox_poll_seconds=0.05,
    )
    return DecisionSettings(**{**values, **overrides})


@pytest_asyncio.fixture
async def start_decision(nats_url: str, database_url: str) -> AsyncIterator[Callable[..., Any]]:
    """``await start_decision(schema, **overrides)``; every service started is stopped after."""
    async with service_starter(
        build_service, lambda schema, **kw: settings_for(nats_url, database_url, schema, **kw)
    ) as start:
        yield start


def client(service: Service) -> httpx.AsyncClient:
    return asgi_client(service, "http://decision")
