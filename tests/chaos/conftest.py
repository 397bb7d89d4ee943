"""Fixtures of the chaos suite: NATS and Postgres of its own (so a scenario can stop and start
them), the end-to-end tests' seeded market and platform harness, and the clean reference run."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from robson_kit.bus import Bus

from .platform import CANDLES, ChaosInfra, ChaosPlatform, Reference, market, run_clean

SEED = 9


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault-injection run of the whole platform")


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    from .platform import REPORTS

    for line in REPORTS:
        terminalreporter.write_line(f"[chaos] {line}")


@pytest.fixture(scope="session")
def chaos_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return market.write_dataset(tmp_path_factory.mktemp("chaos-klines"), SEED, CANDLES)


@pytest.fixture(scope="session")
def chaos_infra() -> Iterator[ChaosInfra]:
    # Outside pytest's basetemp, as the kit's infra fixture (Postgres runs as another user).
    directory = Path(tempfile.mkdtemp(prefix="robson-chaos-"))
    infra = ChaosInfra(directory).start()
    try:
        yield infra
    finally:
        infra.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture(scope="session")
async def chaos_bus(chaos_infra: ChaosInfra) -> AsyncIterator[Bus]:
    connected = await Bus(chaos_infra.nats.url, name="chaos").connect()
    try:
        yield connected
    finally:
        await connected.close()


@pytest_asyncio.fixture(scope="session")
async def new_platform(
    chaos_infra: ChaosInfra, chaos_dataset: Path, chaos_bus: Bus,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[object]:
    """``await new_platform()``: fresh streams and schemas, six started, configured services;
    the previous platform is stopped first (services share durable consumer names)."""
    started: list[ChaosPlatform] = []
    logs = tmp_path_factory.mktemp("chaos-logs")

    async def make() -> ChaosPlatform:
        for platform in started:
            platform.stop()
        platform = ChaosPlatform(chaos_infra, chaos_bus, chaos_dataset, logs)
        started.append(platform)
        await platform.launch()
        return platform

    try:
        yield make
    finally:
        for platform in started:
            platform.stop()


@pytest_asyncio.fixture(scope="session")
async def clean(new_platform) -> Reference:  # type: ignore[no-untyped-def]
    return await run_clean(new_platform)
