"""A service's own collaborators travel as its typed ``deps``, never a string-keyed dict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from robson_kit.service import Service
from robson_kit.testing import wait_until
from sampleapp.app import SampleSettings

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"


@dataclass(frozen=True)
class Greeter:
    greeting: str


async def test_service_built_without_deps_names_itself_when_they_are_read(
    nats_url: str, database_url: str, schema: str
) -> None:
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS)
    try:
        with pytest.raises(RuntimeError, match="service sample has no deps"):
            _ = service.deps
    finally:
        await service.engine.dispose()


async def test_deps_given_to_the_constructor_are_what_the_service_returns(
    nats_url: str, database_url: str, schema: str
) -> None:
    greeter = Greeter("hello")
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, deps=greeter)
    try:
        assert service.deps is greeter
    finally:
        await service.engine.dispose()


async def test_deps_set_by_an_on_start_hook_reach_the_background_hooks(
    nats_url: str, database_url: str, schema: str
) -> None:
    seen: list[Greeter] = []

    async def provide(service: Service[Greeter]) -> None:
        service.deps = Greeter(f"hello from {service.name}")

    async def greet(service: Service[Greeter]) -> None:
        seen.append(service.deps)

    service: Service[Greeter] = Service(
        SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
        MIGRATIONS, on_start=[provide], background=[greet])
    await service.start()
    try:
        await wait_until(lambda: seen, message="the background hook ran")
    finally:
        await service.stop()
    assert seen == [Greeter("hello from sample")]
