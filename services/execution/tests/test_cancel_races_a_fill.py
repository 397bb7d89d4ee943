"""A partial fill that happened while the user data stream was down, then a cancel
before the next poll: the fill must not be lost."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from robson_contracts import CancelOrder, TradingMode
from robson_kit.bus import Bus
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit
from .test_breaker_restart import _starter


async def test_partial_fill_before_cancel_is_recorded_even_without_the_stream(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance
) -> None:
    run = _starter(nats_url, database_url, schema, fake)
    fake.refuse_streams = True  # fills are found only by polling / reconciliation
    async with run(poll_interval_seconds=30) as api:
        await enable_live(api)

        async def reconciled(n: int) -> bool:
            return len(of(await account_events(bus), "ReconciliationCompleted")) >= n

        await wait_until(lambda: reconciled(1), message="first reconciliation")
        await bus.publish(submit("x1", type_="LIMIT", qty="0.01", price="50000"))

        async def has(name: str) -> bool:
            return bool(of(await order_events(bus), name, "x1"))

        await wait_until(lambda: has("OrderAccepted"), message="accepted")
        order = fake.engine.by_client_id(fake.order_posts()[0]["newClientOrderId"])[0]
        fake.engine.fill(order, Decimal("0.004"))  # part of it fills on the venue ...
        await bus.publish(CancelOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE,
                                      symbol="BTCUSDT", order_id="x1"))  # ... then it is canceled
        await wait_until(lambda: has("OrderCanceled"), message="canceled")
        assert order.status == "CANCELED" and order.executed == Decimal("0.004")
        r = await api.post("/accounts/acc1/reconcile")
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.5)
        fills = (await api.get("/accounts/acc1/fills")).json()
        evts = await order_events(bus)
        assert [Decimal(f["quantity"]) for f in fills] == [Decimal("0.004")]
        assert len(of(evts, "OrderPartiallyFilled", "x1")) == 1
        assert of(evts, "OrderCanceled", "x1")[0].remaining_quantity == Decimal("0.006")
