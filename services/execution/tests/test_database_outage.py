"""The database goes away for 10 s (connections refused, open ones cut) while orders are
queued, one is in flight on the venue and more arrive: the supervised loops keep restarting,
and once the database is back every accepted live order is placed on the venue exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from robson_contracts import subjects as s
from robson_execution.main import build_service
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, read_stream, wait_until
from robson_kit.testing.outage import outage_database

from .conftest import enable_live, settings_for
from .fakes import FakeBinance, Fault
from .helpers import of, order_events, submit

OUTAGE_SECONDS = 10


async def _orders(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {o["order_id"]: o for o in (await api.get("/accounts/acc1/orders")).json()}


async def _accepted(bus: Bus, order_ids: list[str]) -> bool:
    evts = await order_events(bus)
    return all(of(evts, "OrderAccepted", oid) for oid in order_ids)


async def test_database_outage_with_orders_queued_and_in_flight_places_each_exactly_once(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance
) -> None:
    async with outage_database(database_url) as db:
        service = build_service(settings_for(nats_url, db.url, schema, fake))
        await service.start()
        try:
            transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://execution",
                                         headers=ADMIN_HEADERS) as api:
                await enable_live(api)
                await wait_until(lambda: _reconciled(bus), message="reconciliation")
                await bus.publish(submit("before"))
                await wait_until(lambda: _accepted(bus, ["before"]), message="order before the outage")

                # b1 reaches the venue, whose answer is held past the client's timeout; b2, b3
                # wait behind it (the venue refuses them with 503 until the outage has begun).
                fake.inject(Fault("POST", "order", "timeout_after_accept", hold_seconds=3))
                fake.inject(Fault("POST", "order", "503", times=10**6))
                queued = ["b1", "b2", "b3"]
                for oid in queued:
                    await bus.publish(submit(oid, type_="LIMIT", price="30000"))
                await wait_until(lambda: _recorded(api, queued), message="b1..b3 recorded")
                await wait_until(lambda: _on_venue(fake, api, "b1"), message="b1 on the venue")

                await db.begin()
                fake.faults.clear()
                arrived = ["c1", "c2"]
                for oid in arrived:
                    await bus.publish(submit(oid, type_="LIMIT", price="31000"))
                await asyncio.sleep(OUTAGE_SECONDS)
                failing = service.supervisor.failing()
                assert {"submit", "reconcile"} <= failing.keys(), failing
                await db.end()

                everything = ["before", *queued, *arrived]
                await wait_until(lambda: _accepted(bus, everything), timeout=60,
                                 message="every order accepted after the outage")
                rows = await _orders(api)
                for oid in everything:
                    cid = rows[oid]["client_order_id"]
                    assert len(fake.orders_with_client_id(cid)) == 1, (oid, cid)
                evts = await order_events(bus)
                assert all(len(of(evts, "OrderAccepted", oid)) == 1 for oid in everything)
                assert await read_stream(bus, s.ALL_DEAD_LETTERS, raw=True) == []
        finally:
            await service.stop()


async def _reconciled(bus: Bus) -> bool:
    from .helpers import account_events
    return bool(of(await account_events(bus), "ReconciliationCompleted"))


async def _recorded(api: httpx.AsyncClient, order_ids: list[str]) -> bool:
    return set(order_ids) <= (await _orders(api)).keys()


async def _on_venue(fake: FakeBinance, api: httpx.AsyncClient, order_id: str) -> bool:
    row = (await _orders(api)).get(order_id)
    return bool(row and fake.orders_with_client_id(row["client_order_id"]))
