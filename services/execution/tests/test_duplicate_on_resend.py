"""An order whose first request failed with an unknown outcome is processed by Binance
late (after our query said "does not exist"): the resend gets -2010 "Duplicate order sent." —
the order is live on the venue and must be adopted, not reported rejected."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance, Fault
from .fakes.engine import EngineError
from .helpers import of, order_events, submit
from .test_live_orders import _has, _ready


async def test_duplicate_on_resend_after_late_processing_is_adopted_not_rejected(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await _ready(bus)
    engine, find = fake.engine, fake.engine.find
    late = {"done": False}

    def find_then_process_late(symbol, order_id=None, client_id=None):  # type: ignore[no-untyped-def]
        try:
            return find(symbol, order_id, client_id)
        except EngineError:
            if client_id and not late["done"]:  # the first request lands just after our query
                late["done"] = True
                p = fake.order_posts()[0]
                engine.place(p["symbol"], p["side"], p["type"], Decimal(p["quantity"]),
                             Decimal(p["price"]), None, p.get("timeInForce", "GTC"), client_id)
            raise

    engine.find = find_then_process_late  # type: ignore[method-assign]
    fake.inject(Fault("POST", "order", "503"))
    await bus.publish(submit("dup1", type_="LIMIT", qty="0.01", price="50000"))
    async def outcome() -> bool:
        return await _has(bus, "OrderAccepted", "dup1") or await _has(bus, "OrderRejected", "dup1")

    await wait_until(outcome, message="an outcome")
    await asyncio.sleep(0.5)
    evts = await order_events(bus)
    assert late["done"] and len(engine.open_orders()) == 1
    assert of(evts, "OrderRejected", "dup1") == []
    assert len(of(evts, "OrderAccepted", "dup1")) == 1
