"""ROBSON_PAPER_MARKET_FILL: a market order fills at the next price (default) or at once at a
fresh last price, as a venue fills against its book."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from robson_kit.bus import Bus
from robson_kit.testing import wait_until
from robson_paper.deps import PaperService
from robson_paper.domain import MarketFill, plan_of
from robson_paper.main import build_service
from robson_paper.settings import PaperSettings

from .bus_helpers import bracket, events_of, tick, waiter
from .helpers import D, at, exchange, fills, names, spec

LAST = MarketFill.LAST_PRICE


def test_next_price_mode_leaves_a_market_order_waiting_even_with_a_fresh_last_price() -> None:
    ex = exchange(slippage="10")
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "1"), at(1))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D(200), at(2))
    assert fills(ex.drain())[0].price == D("200.20")


def test_last_price_mode_fills_a_market_buy_at_once_at_the_fresh_last_price_plus_slippage() -> None:
    ex = exchange(slippage="10", market_fill=LAST)
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "1"), at(1))
    events = ex.drain()
    assert names(events) == ["BalanceChanged", "Accepted", "Filled"]
    (fill,) = fills(events)
    assert (fill.price, fill.quantity, fill.at) == (D("100.10"), D(1), at(1))
    assert ex.accounts["a1"].holds == {} and ex.immediate.get("BTCUSDT", []) == []
    ex.on_price("BTCUSDT", D(200), at(2))
    assert fills(ex.drain()) == []  # filled once, not again at the next price


def test_last_price_mode_fills_a_market_sell_below_the_last_price() -> None:
    ex = exchange(slippage="10", market_fill=LAST)
    ex.submit("a1", "default", spec("b1", "BUY", "MARKET", "1"), at(1))
    ex.submit("a1", "default", spec("s1", "SELL", "MARKET", "1"), at(2))
    assert [f.price for f in fills(ex.drain())] == [D("100.10"), D("99.90")]


def test_last_price_mode_waits_for_the_next_price_when_the_last_one_is_stale() -> None:
    ex = exchange(market_fill=LAST, market_fill_max_age=timedelta(seconds=5))
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "1"), at(6))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D(101), at(7))
    assert fills(ex.drain())[0].price == D(101)


def test_last_price_mode_accepts_a_price_exactly_as_old_as_the_limit() -> None:
    ex = exchange(market_fill=LAST, market_fill_max_age=timedelta(seconds=5))
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "1"), at(5))
    assert fills(ex.drain())[0].price == D(100)


def test_last_price_mode_leaves_limit_orders_resting() -> None:
    ex = exchange(market_fill=LAST)
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "1", price="90"), at(1))
    assert fills(ex.drain()) == []


def test_last_price_mode_bracket_entry_fills_at_once_and_releases_its_children() -> None:
    ex = exchange(market_fill=LAST)
    plan = plan_of(D(95), None, "sl", [("tp", "tps", D(110), D(1))])
    ex.submit_bracket("a1", "default", "L1", spec("e1", "BUY", "MARKET", "1"), plan, at(1), "p1")
    events = ex.drain()
    assert fills(events)[0].price == D(100)
    assert {k[1] for k in ex.orders} == {"tp", "tps"}


def test_market_fill_setting_rejects_an_unknown_mode_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="market_fill"):
        PaperSettings(market_fill="mid_price")


async def test_service_in_last_price_mode_fills_a_bracket_entry_without_waiting_for_a_tick(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    service = build_service(PaperSettings(nats_url=nats_url, database_url=database_url,
                                          db_schema=schema, ack_wait_seconds=2, slippage_bps=0,
                                          market_fill="last_price"))
    await service.start()
    try:
        await bus.publish(tick("100", 1))
        await wait_until(lambda: _price_seen(service), message="first price")
        await bus.publish(bracket(2))
        (filled,) = await wait_until(waiter(bus, "OrderFilled", "e1"), message="entry filled")
        assert filled.fill.price == D(100) and filled.fill.filled_at == at(2)
        assert await events_of(bus, "OrderAccepted", "e1-tps")
    finally:
        await service.stop()


async def _price_seen(service: PaperService) -> bool:
    ex = service.deps.exchange
    return ex is not None and ex.market("BTCUSDT").last_price is not None
