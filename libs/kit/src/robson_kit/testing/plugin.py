"""pytest plugin (enabled in the root pyproject): infrastructure fixtures.

* ``infra`` (session): NATS + Postgres — ``NATS_URL`` / ``DATABASE_URL`` when set, otherwise
  real embedded servers on free ports in a temp dir, stopped at the end of the session.
* ``bus`` : a connected Bus with every Robson stream deleted and recreated (clean slate).
* ``schema``: a fresh Postgres schema name, dropped after the test.
* ``own_postgres`` / ``own_nats``: a server of the test's own (never the session's shared one),
  which the test may ``stop()`` and ``start()`` again on the same data directory and port, as
  in an outage or a failover.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from robson_kit.bus import Bus
from robson_kit.embedded import EmbeddedNats, EmbeddedPostgres, Infrastructure
from robson_kit.testing.auth import install_test_key
from robson_kit.testing.helpers import drop_schema, reset_streams, unique_schema


def pytest_configure(config: pytest.Config) -> None:
    install_test_key()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    # Not under pytest's basetemp: every pytest session that starts resets that tree to mode
    # 0700, which would lock out a running Postgres that (as root) runs as user "pgserver".
    directory = Path(tempfile.mkdtemp(prefix="robson-test-infra-"))
    infrastructure = Infrastructure(directory).start()
    try:
        yield infrastructure
    finally:
        infrastructure.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(infra: Infrastructure) -> str:
    return infra.nats_url


@pytest.fixture(scope="session")
def database_url(infra: Infrastructure) -> str:
    return infra.database_url


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await Bus(nats_url, name="pytest").connect()
    await reset_streams(connected)
    try:
        yield connected
    finally:
        await connected.close()


@pytest_asyncio.fixture
async def schema(database_url: str) -> AsyncIterator[str]:
    name = unique_schema()
    try:
        yield name
    finally:
        await drop_schema(database_url, name)


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
