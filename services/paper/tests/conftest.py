from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest_asyncio
from robson_paper.deps import PaperService
from robson_paper.main import build_service
from robson_paper.settings import PaperSettings


def paper_env(nats_url: str, database_url: str, schema: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_PAPER_DB_SCHEMA": schema,
        "ROBSON_PAPER_ACK_WAIT_SECONDS": "2",
        "ROBSON_PAPER_SLIPPAGE_BPS": "0",
        "ROBSON_PAPER_LOG_LEVEL": "INFO",
    }


@asynccontextmanager
async def started_paper(nats_url: str, database_url: str, schema: str,
                        **settings: object) -> AsyncIterator[PaperService]:
    """A paper service on the test's schema, started, and stopped at the end; ``settings``
    override the tests' defaults."""
    values: dict[str, object] = {"ack_wait_seconds": 2, "max_deliver": 3, "slippage_bps": 0,
                                 **settings}
    service = build_service(PaperSettings(nats_url=nats_url, database_url=database_url,
                                          db_schema=schema, **values))  # type: ignore[arg-type]
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest_asyncio.fixture
async def paper(bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator[PaperService]:
    async with started_paper(nats_url, database_url, schema) as service:
        yield service
