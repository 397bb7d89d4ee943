"""The circuit breaker is stored: a restart keeps an OPEN breaker open until its cool-down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from robson_execution.main import build_service
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, wait_until

from .conftest import enable_live, settings_for
from .fakes import FakeBinance, Fault
from .helpers import account_events, of, order_events, submit

Starter = Callable[..., Any]


def _starter(nats_url: str, database_url: str, schema: str, fake: FakeBinance) -> Starter:
    @asynccontextmanager
    async def run(**over: Any) -> AsyncIterator[httpx.AsyncClient]:
        service = build_service(settings_for(nats_url, database_url, schema, fake, **over))
        await service.start()
        try:
            transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False))
            async with httpx.AsyncClient(headers=ADMIN_HEADERS, transport=transport, base_url="http://execution") as client:
                yield client
        finally:
            await service.stop()
    return run


async def _btc(api: httpx.AsyncClient) -> dict[str, Any]:
    found = [b for b in (await api.get("/breakers")).json() if b["symbol"] == "BTCUSDT"]
    return found[0] if found else {"state": "NONE"}


async def _reconciled(bus: Bus, n: int) -> bool:
    return len(of(await account_events(bus), "ReconciliationCompleted")) >= n


async def test_open_breaker_survives_restart_and_holds_orders_until_its_cool_down(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance
) -> None:
    run = _starter(nats_url, database_url, schema, fake)
    fake.refuse_streams = True
    async with run(breaker_cool_down_seconds=3600) as api:
        await enable_live(api)
        await wait_until(lambda: _reconciled(bus, 1), message="first reconciliation")
        fake.inject(Fault("GET", "order", "503", times=1000))
        fake.inject(Fault("POST", "order", "503", times=1))
        await bus.publish(submit("held"))

        async def opened() -> bool:
            return (await _btc(api))["state"] == "OPEN"

        await wait_until(opened, interval=0.05, message="breaker open")
        before = await _btc(api)
    fake.faults.clear()

    async with run(breaker_cool_down_seconds=3600) as api:
        after = await _btc(api)
        assert after["state"] == "OPEN" and after["opened_at"] == before["opened_at"]
        assert after["failures"] == before["failures"] >= 5 and after["last_error"]
        await wait_until(lambda: _reconciled(bus, 2), message="start-up reconciliation")
        await asyncio.sleep(1.0)  # several submit cycles with the breaker open
        assert len(fake.order_posts()) == 1 and fake.engine.orders == []

    async with run(breaker_cool_down_seconds=0.5) as api:  # the stored opened_at is long past
        async def filled() -> bool:
            return bool(of(await order_events(bus), "OrderFilled", "held"))

        await wait_until(filled, message="order placed after the cool-down")
        assert (await _btc(api))["state"] == "CLOSED"
        assert len(fake.engine.orders) == 1
