"""Orders whose price is already through the market, against the fake exchange, which refuses
them as Binance does: a STOP_LOSS(_LIMIT) that would trigger at once (-2010 "Stop price would
trigger immediately.") and an OCO whose prices are not on either side of the last price
(-2010 "The relationship of the prices for the orders is not correct."). execution reports them
as ``OrderRejected`` ``BINANCE_2010`` with Binance's message, for position to answer (it closes
at market at once). The fake placed them (a stop then filling at once), so these paths were
never exercised with the real protocol."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import (
    BracketTakeProfit,
    ReplaceOrder,
    SubmitBracketOrder,
    SubmitOcoOrder,
    TradingMode,
)
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit

D = Decimal
WOULD_TRIGGER = "Stop price would trigger immediately."
RELATIONSHIP = "The relationship of the prices for the orders is not correct."


async def _ready(bus: Bus, api: httpx.AsyncClient) -> None:
    await enable_live(api)

    async def done() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))
    await wait_until(done, message="reconciliation")


async def _rejected(bus: Bus, *order_ids: str) -> dict[str, tuple[str, str]]:
    evts = await order_events(bus)
    return {e.order_id: (e.reason_code, e.message) for e in of(evts, "OrderRejected")
            if e.order_id in order_ids}


async def test_stop_loss_already_triggered_is_rejected_as_binance_rejects_it(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await _ready(bus, api)  # the last price is 60000
    await bus.publish(submit("s1", type_="STOP_MARKET", side="SELL", stop_price=D("61000")))
    await wait_until(lambda: _has(bus, "OrderRejected", "s1"), message="stop refused")
    assert await _rejected(bus, "s1") == {"s1": ("BINANCE_2010", WOULD_TRIGGER)}
    assert fake.engine.trades == [] and fake.engine.open_orders() == []


async def test_oco_with_its_stop_above_the_last_price_is_rejected_whole(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await _ready(bus, api)
    await bus.publish(SubmitOcoOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, list_id="l1", symbol="BTCUSDT",
        side="SELL", quantity=D("0.01"), stop_order_id="s1", stop_price=D("61000"),
        take_profit_order_id="t1", take_profit_price=D("70000")))
    await wait_until(lambda: _has(bus, "OrderRejected", "t1"), message="OCO refused")
    assert await _rejected(bus, "s1", "t1") == {"s1": ("BINANCE_2010", RELATIONSHIP),
                                                "t1": ("BINANCE_2010", RELATIONSHIP)}
    assert fake.engine.trades == [] and fake.engine.open_orders() == []


async def test_bracket_entry_filled_beyond_its_take_profit_gets_its_oco_rejected(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """The entry fills at 60000, above the 59000 take-profit: Binance refuses the OCO for the
    relationship of its prices (the fake said "Order would immediately match and take.")."""
    await _ready(bus, api)
    entry = submit("entry1", qty="0.01").order
    await bus.publish(SubmitBracketOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, position_id="pos1", list_id="br1",
        entry=entry, stop_price=D("55000"), stop_order_id="sl1",
        take_profits=(BracketTakeProfit(order_id="tp1", stop_order_id="sl1", price=D("59000"),
                                        fraction=D(1)),)))
    await wait_until(lambda: _has(bus, "OrderRejected", "tp1"), message="children refused")
    assert await _rejected(bus, "sl1", "tp1") == {"sl1": ("BINANCE_2010", RELATIONSHIP),
                                                  "tp1": ("BINANCE_2010", RELATIONSHIP)}
    assert [t.order.client_order_id for t in fake.engine.trades] == \
        [fake.engine.orders[0].client_order_id]  # the entry's fill only


async def test_stop_moved_through_the_market_is_rejected_as_binance_rejects_it(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """Execution cancels the old stop, then places the new one: refused, it is reported (the
    old one is gone at the venue: position must not count on it)."""
    await _ready(bus, api)
    await bus.publish(submit("s2", type_="STOP_MARKET", side="SELL", stop_price=D("55000")))
    await wait_until(lambda: _has(bus, "OrderAccepted", "s2"), message="stop placed")
    await bus.publish(ReplaceOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE,
                                   symbol="BTCUSDT", order_id="s2", new_order_id="s2b",
                                   stop_price=D("61000")))
    await wait_until(lambda: _has(bus, "OrderRejected", "s2b"), message="moved stop refused")
    assert await _rejected(bus, "s2b") == {"s2b": ("BINANCE_2010", WOULD_TRIGGER)}
    assert fake.engine.trades == [] and fake.engine.open_orders() == []


async def _has(bus: Bus, name: str, order_id: str) -> bool:
    return bool(of(await order_events(bus), name, order_id))
