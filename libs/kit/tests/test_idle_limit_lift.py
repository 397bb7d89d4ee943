"""A start-up load may think longer than the fence's idle limit between its statements (parsing
a large book): ``lift_idle_limit`` turns the limit off for that one transaction, and only it."""

from __future__ import annotations

import asyncio

import pytest
from robson_kit.clock import WallClock
from robson_kit.db import ensure_schema, make_engine, make_sessionmaker
from robson_kit.uow import UnitOfWorkFactory, lift_idle_limit
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError

LIMIT_SECONDS = 0.3


async def _think_between_statements(database_url: str, schema: str, lift: bool) -> int:
    engine = make_engine(database_url, schema, idle_in_transaction_seconds=LIMIT_SECONDS)
    try:
        await ensure_schema(engine, schema)
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine), WallClock())
        async with uow_factory() as uow:
            if lift:
                await lift_idle_limit(uow.session)
            await uow.session.execute(text("SELECT 1"))
            await asyncio.sleep(3 * LIMIT_SECONDS)  # parsing what the first read returned
            value = (await uow.session.execute(text("SELECT 2"))).scalar_one()
        with pytest.raises((DBAPIError, InterfaceError)):  # the next one has the limit again
            async with uow_factory() as uow:
                await uow.session.execute(text("SELECT 1"))
                await asyncio.sleep(3 * LIMIT_SECONDS)
                await uow.session.execute(text("SELECT 3"))
        return value
    finally:
        await engine.dispose()


async def test_a_load_that_lifts_the_idle_limit_may_think_longer_than_it(
    database_url: str, schema: str
) -> None:
    assert await _think_between_statements(database_url, schema, lift=True) == 2


async def test_without_the_lift_the_server_ends_a_transaction_idle_past_the_limit(
    database_url: str, schema: str
) -> None:
    with pytest.raises((DBAPIError, InterfaceError)):
        await _think_between_statements(database_url, schema, lift=False)
