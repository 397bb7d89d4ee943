from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from robson_execution.main import build_service
from robson_execution.settings import ExecutionSettings
from robson_kit.service import Service
from robson_kit.testing import ADMIN_HEADERS

from .fakes import FakeBinance

MASTER = "k1:" + base64.b64encode(b"0" * 32).decode()
CONFIRM = "I UNDERSTAND THIS TRADES REAL ORDERS"


def execution_env(nats_url: str, database_url: str, schema: str, fake: FakeBinance) -> dict[str, str]:
    return {
        "NATS_URL": nats_url, "DATABASE_URL": database_url,
        "ROBSON_EXECUTION_DB_SCHEMA": schema, "ROBSON_EXECUTION_MASTER_KEYS": MASTER,
        "ROBSON_EXECUTION_BINANCE_REST_URL": fake.rest_url,
        "ROBSON_EXECUTION_BINANCE_WS_API_URL": fake.ws_url,
        "ROBSON_EXECUTION_REQUEST_TIMEOUT_SECONDS": "1", "ROBSON_EXECUTION_POLL_INTERVAL_SECONDS": "0.3",
        "ROBSON_EXECUTION_RETRY_BASE_SECONDS": "0.05", "ROBSON_EXECUTION_ACK_WAIT_SECONDS": "3",
        "ROBSON_EXECUTION_SUBMIT_IDLE_SECONDS": "0.1", "ROBSON_EXECUTION_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    exchange = await FakeBinance().start()
    try:
        yield exchange
    finally:
        await exchange.stop()


def settings_for(nats_url: str, database_url: str, schema: str, fake: FakeBinance, **over: Any) -> ExecutionSettings:
    values: dict[str, Any] = dict(
        nats_url=nats_url, database_url=database_url, db_schema=schema, master_keys=MASTER,
        binance_rest_url=fake.rest_url, binance_ws_api_url=fake.ws_url, request_timeout_seconds=1,
        poll_interval_seconds=0.3, retry_base_seconds=0.05, submit_idle_seconds=0.1,
        ack_wait_seconds=3, breaker_cool_down_seconds=0.5)
    values.update(over)
    return ExecutionSettings(**values)


@pytest_asyncio.fixture
async def execution(bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance) -> AsyncIterator[Service]:
    service = build_service(settings_for(nats_url, database_url, schema, fake))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest_asyncio.fixture
async def quick_rules(bus, nats_url: str, database_url: str, schema: str,
                      fake: FakeBinance) -> AsyncIterator[httpx.AsyncClient]:
    """An execution service refreshing the exchange rules every 0.3 s, through its API."""
    service = build_service(settings_for(nats_url, database_url, schema, fake, rules_refresh_seconds=0.3))
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False))
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, transport=transport,
                                     base_url="http://execution") as client:
            yield client
    finally:
        await service.stop()


@pytest_asyncio.fixture
async def api(execution: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=execution.app(manage_lifecycle=False))
    async with httpx.AsyncClient(headers=ADMIN_HEADERS, transport=transport, base_url="http://execution") as client:
        yield client


async def enable_live(client: httpx.AsyncClient, account_id: str = "acc1") -> None:
    r = await client.put(f"/accounts/{account_id}/keys", json={"api_key": "test-key", "api_secret": "test-secret"})
    assert r.status_code == 200, r.text
    r = await client.put(f"/accounts/{account_id}", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
    assert r.status_code == 200, r.text
