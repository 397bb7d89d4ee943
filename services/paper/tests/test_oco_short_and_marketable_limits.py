"""A protective SELL OCO on a short-enabled account sells what it owns (no short, no borrow),
and a GTC limit marketable on arrival takes the price it meets as a taker."""

from __future__ import annotations

from robson_contracts import Side
from robson_paper.domain.events import Accepted, Rejected

from .helpers import D, at, exchange, fills


def test_protective_sell_oco_on_a_short_enabled_account_holds_the_base_once_and_borrows_nothing() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000)}, allow_short=True)
    ex.submit("a1", "default", _spec("b1", "BUY", "MARKET", "9"), at(1))
    ex.on_price("BTCUSDT", D(100), at(2))  # 9 BTC for 900.9: 99.1 USDT left
    ex.drain()
    acc = ex.accounts["a1"]
    assert acc.free["BTC"] == D(9)
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D(9), "s1", D(95), None, "t1",
                  D(110), at(3))
    events = ex.drain()
    # a SELL OCO closing the long it owns: both legs sell the 9 BTC held once (spot)
    assert [e.code for e in events if isinstance(e, Rejected)] == []
    assert {e.ref.order_id for e in events if isinstance(e, Accepted)} == {"t1", "s1"}
    assert acc.holds == {"s1": {"BTC": D(9)}}
    ex.on_price("BTCUSDT", D(94), at(4))
    (fill,) = fills(ex.drain())
    assert fill.ref.order_id == "s1" and fill.quantity == D(9)
    assert acc.borrowed == {} and acc.free.get("BTC", D(0)) == 0 and acc.holds == {}


def _spec(*args, **kwargs):
    from .helpers import spec
    return spec(*args, **kwargs)


def test_sell_oco_on_a_short_enabled_account_with_cash_to_spare_does_not_borrow_what_it_owns() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(10000)}, allow_short=True)
    ex.submit("a1", "default", _spec("b1", "BUY", "MARKET", "1"), at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    ex.drain()
    acc = ex.accounts["a1"]
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D(1), "s1", D(95), None, "t1",
                  D(110), at(3))
    ex.drain()
    assert acc.holds == {"s1": {"BTC": D(1)}}  # not also 96.9 USDT of short collateral
    ex.on_price("BTCUSDT", D(94), at(4))
    (fill,) = fills(ex.drain())
    assert fill.ref.order_id == "s1"
    assert acc.borrowed == {} and acc.free.get("BTC", D(0)) == 0  # sold the BTC it had


def test_buy_limit_above_the_market_on_arrival_fills_at_the_market_as_taker_not_at_its_limit() -> None:
    from robson_contracts import Liquidity
    ex = exchange()
    # last price 100: a buy limit at 110 is marketable on arrival (a venue fills it at the ask)
    ex.submit("a1", "default", _spec("l1", "BUY", "LIMIT", "1", price="110"), at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(100), at(2))
    (fill,) = fills(ex.drain())
    assert (fill.price, fill.liquidity) == (D(100), Liquidity.TAKER)
    assert ex.accounts["a1"].free["USDT"] == D(10000) - D(100) - D("0.1")


def test_marketable_limit_takes_the_volume_on_offer_and_rests_the_rest_at_its_limit() -> None:
    from robson_contracts import Liquidity
    ex = exchange()
    ex.submit("a1", "default", _spec("l1", "BUY", "LIMIT", "3", price="110"), at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(100), at(2), quantity=D(1))
    (first,) = fills(ex.drain())
    assert (first.price, first.quantity, first.liquidity) == (D(100), D(1), Liquidity.TAKER)
    assert ex.accounts["a1"].locked("USDT") == D("220.22")  # 2 left at 110 × 1.001
    ex.on_price("BTCUSDT", D(120), at(3))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D(105), at(4))
    (second,) = fills(ex.drain())
    assert (second.price, second.quantity, second.liquidity) == (D(110), D(2), Liquidity.MAKER)
    assert ex.accounts["a1"].holds == {}
