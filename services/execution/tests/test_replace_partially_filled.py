"""Replacing (re-pricing) a partially filled order must place only what is left,
as paper does (``quantity or old.remaining``): never the full quantity again."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import ReplaceOrder, TradingMode
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .fakes import FakeBinance
from .helpers import T0, of, order_events
from .test_live_orders import _has, partly_filled_limit


async def test_replacing_a_partially_filled_limit_places_only_the_remaining_quantity(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await partly_filled_limit(bus, api, fake, "p1")
    await bus.publish(ReplaceOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE,
                                   symbol="BTCUSDT", order_id="p1", new_order_id="p1b",
                                   price=Decimal("59000")))
    await wait_until(lambda: _has(bus, "OrderReplaced", "p1"), message="replaced")
    replaced = of(await order_events(bus), "OrderReplaced", "p1")[0]
    new = [o for o in fake.engine.open_orders() if o.price == Decimal("59000")]
    assert len(new) == 1
    assert new[0].quantity == Decimal("0.006")  # 0.004 of the 0.01 already bought
    assert replaced.order.quantity == Decimal("0.006")
