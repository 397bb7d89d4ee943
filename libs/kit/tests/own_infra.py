"""Servers a test may stop and start: its own embedded Postgres / NATS, never the session's
shared ones. Restarted on the same data directory and port, as after a failover or a reboot."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from robson_kit.embedded import EmbeddedNats, EmbeddedPostgres


@pytest_asyncio.fixture
async def own_postgres() -> AsyncIterator[EmbeddedPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="robson-own-pg-"))
    server = await asyncio.to_thread(EmbeddedPostgres(directory).start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def own_nats() -> AsyncIterator[EmbeddedNats]:
    directory = Path(tempfile.mkdtemp(prefix="robson-own-nats-"))
    server = await asyncio.to_thread(EmbeddedNats(directory).start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(directory, ignore_errors=True)
