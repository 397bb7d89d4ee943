"""Fixtures of the end-to-end tests: the seeded dataset and a platform factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from robson_kit.bus import Bus
from robson_kit.testing import reset_streams

from .harness import Platform
from .market import write_dataset

SEED = 9
CANDLES = 120


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("klines"), SEED, CANDLES)


@pytest_asyncio.fixture(scope="session")
async def e2e_bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await Bus(nats_url, name="e2e").connect()
    try:
        yield connected
    finally:
        await connected.close()


@pytest_asyncio.fixture(scope="module")
async def platform_factory(
    nats_url: str, database_url: str, dataset: Path, e2e_bus: Bus,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[..., Awaitable[Platform]]]:
    """``await new_platform()``: fresh streams, fresh schemas, six started and configured
    services; each is stopped at the end of this module (or when the test stops it): a service
    left running would share its durable consumers with the next module's services."""
    started: list[Platform] = []
    logs = tmp_path_factory.mktemp("logs")

    async def new_platform(config_yaml: str | None = None) -> Platform:
        for platform in started:
            platform.stop()
        await reset_streams(e2e_bus)
        platform = Platform(nats_url, database_url, dataset, logs)
        if config_yaml is not None:
            platform.config_yaml = config_yaml
        started.append(platform)
        await platform.start()
        await platform.configure()
        return platform

    try:
        yield new_platform
    finally:
        for platform in started:
            platform.stop()
