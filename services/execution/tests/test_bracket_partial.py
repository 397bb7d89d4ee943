"""A partially filled bracket entry is protected at once, and the protection grows with fills."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import BracketTakeProfit, SubmitBracketOrder, TradingMode
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit

D = Decimal


async def _has(bus: Bus, name: str, order_id: str, n: int = 1) -> bool:
    return len(of(await order_events(bus), name, order_id)) >= n


def _exits(fake: FakeBinance) -> list[tuple[str, Decimal]]:
    return sorted((o.type, o.quantity) for o in fake.engine.open_orders() if o.side == "SELL")


async def test_partial_entry_fill_is_protected_at_once_and_the_oco_resized_as_the_rest_fills(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)

    async def ready() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))

    await wait_until(ready, message="reconciliation")
    fake.engine.partial_fill_fraction = D("0.4")  # the market entry fills 40 % now, the rest later
    await bus.publish(SubmitBracketOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, position_id="pos1", list_id="br1",
        entry=submit("e1", qty="0.01").order, stop_price=D("55000"), stop_order_id="sl1",
        take_profits=(BracketTakeProfit(order_id="tp1", stop_order_id="sl1", price=D("65000"), fraction=D(1)),)))
    await wait_until(lambda: _has(bus, "OrderAccepted", "tp1"), message="protection of the partial fill")
    entry = fake.engine.by_client_id(fake.order_posts()[0]["newClientOrderId"])[0]
    assert entry.status == "PARTIALLY_FILLED"
    assert _exits(fake) == [("LIMIT_MAKER", D("0.004")), ("STOP_LOSS", D("0.004"))]
    accepted = of(await order_events(bus), "OrderAccepted", "sl1")[0]
    assert accepted.order.quantity == D("0.004") and accepted.parent_order_id == "e1"

    fake.engine.fill(entry)  # the remaining 0.006
    await wait_until(lambda: _has(bus, "OrderReplaced", "tp1"), message="OCO resized")
    await wait_until(lambda: _has(bus, "OrderReplaced", "sl1"), message="OCO resized")
    evts = await order_events(bus)
    assert [e.order.quantity for e in of(evts, "OrderReplaced", "sl1")] == [D("0.01")]
    assert of(evts, "OrderReplaced", "sl1")[0].order.order_id == "sl1"
    assert _exits(fake) == [("LIMIT_MAKER", D("0.01")), ("STOP_LOSS", D("0.01"))]
    assert of(evts, "OrderCanceled") == []  # the old OCO was replaced, not reported as canceled
    assert [m for m, path, _ in fake.requests if path == "orderList"] == ["DELETE"]

    fake.engine.set_price("BTCUSDT", D("65000"))
    await wait_until(lambda: _has(bus, "OrderFilled", "tp1"), message="take-profit fill")
    await wait_until(lambda: _has(bus, "OrderCanceled", "sl1"), message="stop canceled by OCO")
    evts = await order_events(bus)
    assert [e.fill.quantity for e in of(evts, "OrderFilled", "tp1")] == [D("0.01")]
    assert fake.engine.open_orders() == []
