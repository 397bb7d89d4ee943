"""Orders through the real service against the fake exchange: placement, fills, faults."""

from __future__ import annotations

from decimal import Decimal

import httpx

from robson_execution.testing import FakeBinance, Fault
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .helpers import account_events, of, order_events, submit


async def _ready(bus: Bus) -> None:
    await wait_until(lambda: _has(bus, "ReconciliationCompleted"), timeout=15, message="reconciliation")


async def _has(bus: Bus, name: str, order_id: str | None = None, n: int = 1) -> bool:
    evts = await (account_events(bus) if name in ("ReconciliationCompleted", "AccountModeChanged") else order_events(bus))
    return len(of(evts, name, order_id)) >= n


async def test_market_order_is_placed_once_and_its_fill_published_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    cmd = submit("m1")
    await bus.publish(cmd)
    await wait_until(lambda: _has(bus, "OrderFilled", "m1"), message="fill")
    evts = await order_events(bus)
    assert [e.message_type for e in evts if e.order_id == "m1"] == ["OrderAccepted", "OrderFilled"]
    assert len(fake.order_posts()) == 1
    fill = of(evts, "OrderFilled")[0]
    assert fill.cumulative_quantity == Decimal("0.01") and fill.fill.fee > 0
    assert len(of(await account_events(bus), "AccountModeChanged")) == 1


async def test_timeout_after_accept_is_queried_and_never_resent(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True  # no executionReport may reveal the order: only a query can
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "timeout_after_accept", hold_seconds=2))
    await bus.publish(submit("t1"))
    await wait_until(lambda: _has(bus, "OrderFilled", "t1"), message="fill after timeout")
    posts = fake.order_posts()
    assert len(posts) == 1
    assert len(fake.orders_with_client_id(posts[0]["newClientOrderId"])) == 1
    assert len(of(await order_events(bus), "OrderFilled", "t1")) == 1
    queries = [p for m, path, p in fake.requests if m == "GET" and path == "order"]
    assert queries and queries[0]["origClientOrderId"] == posts[0]["newClientOrderId"]
