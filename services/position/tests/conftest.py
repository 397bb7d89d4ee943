from __future__ import annotations

import os
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest_asyncio
from robson_kit.testing import asgi_client, token
from robson_position.deps import PositionService
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import T0
from .fakevenue import FakeVenue
from .venuebook import VenueApi


def position_env(nats_url: str, database_url: str, schema: str, paper_url: str | None = None
                 ) -> dict[str, str]:
    """Without ``paper_url`` the start-up re-sync and the stop watchdog are off (no venue API to
    ask; and whatever listens on paper's default port is not this test's venue)."""
    resync = {"ROBSON_POSITION_PAPER_URL": paper_url, "ROBSON_POSITION_RESYNC_RETRY_SECONDS": "0.5",
              "ROBSON_POSITION_SERVICE_TOKEN": token("read", subject="service:position")} \
        if paper_url else {"ROBSON_POSITION_RESYNC_ON_START": "false",
                           "ROBSON_POSITION_STOP_WATCHDOG_INTERVAL_SECONDS": "0"}
    return {
        **resync,
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_POSITION_DB_SCHEMA": schema,
        "ROBSON_POSITION_ACK_WAIT_SECONDS": "2",
        "ROBSON_POSITION_LOG_LEVEL": "WARNING",
        "ROBSON_POSITION_OUTBOX_POLL_SECONDS": "0.2",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }


@pytest_asyncio.fixture
async def service(bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator[PositionService]:
    svc = build_service(PositionSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                         ack_wait_seconds=2, max_deliver=5, outbox_poll_seconds=0.2,
                                         consumer_batch=16, resync_on_start=False,
                                         stop_watchdog_interval_seconds=0))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest_asyncio.fixture
async def api(service: PositionService) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(service, "http://position") as c:
        yield c


@pytest_asyncio.fixture
async def venue(bus) -> AsyncIterator[FakeVenue]:
    v = await FakeVenue(bus, Decimal("50000"), T0).start()
    try:
        yield v
    finally:
        await v.stop()


@pytest_asyncio.fixture
async def venue_api(venue: FakeVenue) -> AsyncIterator[VenueApi]:
    """The fake venue's orders and fills over HTTP, in paper's (and execution's) API shape."""
    served = await VenueApi(venue.book).start()
    try:
        yield served
    finally:
        await served.stop()
