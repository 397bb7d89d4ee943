from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from robson_kit.service import Service  # noqa: E402
from sampleapp.app import SampleSettings, build  # noqa: E402


def sample_env(nats_url: str, database_url: str, schema: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_SAMPLE_DB_SCHEMA": schema,
        "ROBSON_SAMPLE_ACK_WAIT_SECONDS": "2",
        "ROBSON_SAMPLE_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }


@pytest_asyncio.fixture
async def sample(bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator[Service]:
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   ack_wait_seconds=2, max_deliver=3))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
