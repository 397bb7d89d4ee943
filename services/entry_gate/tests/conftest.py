from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest_asyncio
from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.main import build_service
from robson_entry_gate.settings import EntryGateSettings
from robson_kit.testing import ADMIN_HEADERS


def gate_env(nats_url: str, database_url: str, schema: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_ENTRY_GATE_DB_SCHEMA": schema,
        "ROBSON_ENTRY_GATE_ACK_WAIT_SECONDS": "2",
        "ROBSON_ENTRY_GATE_OUTBOX_POLL_SECONDS": "0.2",
    }


def gate_settings(nats_url: str, database_url: str, schema: str) -> EntryGateSettings:
    return EntryGateSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                             ack_wait_seconds=2, max_deliver=3, outbox_poll_seconds=0.2)


@asynccontextmanager
async def running_gate(nats_url: str, database_url: str, schema: str) -> AsyncIterator[EntryGateService]:
    service = build_service(gate_settings(nats_url, database_url, schema))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest_asyncio.fixture
async def gate(bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator[EntryGateService]:
    async with running_gate(nats_url, database_url, schema) as service:
        yield service


@pytest_asyncio.fixture
async def api(gate: EntryGateService) -> AsyncIterator[httpx.AsyncClient]:
    app = gate.app(manage_lifecycle=False)
    async with httpx.AsyncClient(headers=ADMIN_HEADERS, transport=httpx.ASGITransport(app=app),
                                 base_url="http://gate") as client:
        yield client
