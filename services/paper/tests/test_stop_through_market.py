"""Orders whose price is already through the market are refused, as Binance refuses them: a
stop that would trigger at once (-2010 "Stop price would trigger immediately.": here
``STOP_WOULD_TRIGGER``) and an OCO whose prices are not on either side of the last price
(-2010 "The relationship of the prices for the orders is not correct.": ``PRICE_RELATIONSHIP``),
for plain orders, OCOs, bracket children and replacements alike. paper accepted them, so paper
trading and backtests never met the refusal the live venue gives exactly when the price has
moved past a stop. Without a last price for the symbol nothing is known to be through: accepted."""

from __future__ import annotations

import pytest
from robson_contracts import Side
from robson_paper.domain.events import Accepted, Rejected, Replaced
from robson_paper.domain.exchange import plan_of

from .helpers import D, at, exchange, fills, spec


def _buy(ex, qty: str) -> None:  # type: ignore[no-untyped-def]
    ex.submit("a1", "default", spec("b1", "BUY", "MARKET", qty), at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    ex.drain()


def _refused(events: list[object]) -> dict[str, str]:
    return {e.ref.order_id: e.code for e in events if isinstance(e, Rejected)}


@pytest.mark.parametrize(("side", "kind", "stop", "limit"), [
    pytest.param("SELL", "STOP_MARKET", "101", None, id="sell-stop-above"),
    pytest.param("SELL", "STOP_MARKET", "100", None, id="sell-stop-at-last"),
    pytest.param("SELL", "STOP_LIMIT", "101", "100", id="sell-stop-limit"),
    pytest.param("BUY", "STOP_MARKET", "99", None, id="buy-stop-below"),
])
def test_stop_already_triggered_at_the_last_price_is_refused_as_binance_does(
        side: str, kind: str, stop: str, limit: str | None) -> None:
    ex = exchange()  # last price 100
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", side, kind, "1", price=limit, stop=stop), at(3))
    events = ex.drain()
    assert _refused(events) == {"s1": "STOP_WOULD_TRIGGER"}, events
    assert ex.accounts["a1"].holds == {}


def test_stop_not_yet_triggered_is_accepted_and_without_a_last_price_as_well() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="99"), at(3))
    ex.submit("a1", "default", spec("s2", "BUY", "STOP_MARKET", "0.1", stop="1000", symbol="ETHUSDT"), at(3))
    events = ex.drain()
    assert _refused(events) == {}
    assert {e.ref.order_id for e in events if isinstance(e, Accepted)} == {"s1", "s2"}


@pytest.mark.parametrize(("stop", "take_profit"), [
    pytest.param("101", "110", id="stop-already-passed"),
    pytest.param("95", "99", id="take-profit-already-passed"),
    pytest.param("95", "100", id="take-profit-at-last"),
])
def test_oco_with_a_price_on_the_wrong_side_of_the_last_price_is_refused_whole(
        stop: str, take_profit: str) -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D(1), "s1", D(stop), None, "t1",
                  D(take_profit), at(3))
    events = ex.drain()
    assert _refused(events) == {"t1": "PRICE_RELATIONSHIP", "s1": "PRICE_RELATIONSHIP"}, events
    assert ex.accounts["a1"].holds == {} and fills(events) == []


def test_bracket_entry_filled_through_its_stop_gets_its_children_refused() -> None:
    """The market entry fills at the next price, 98, below the 99 stop: its OCO and lone stop
    would trigger at once. paper placed them; the stop then filled at the next price."""
    ex = exchange()
    plan = plan_of(D(99), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "2"), plan, at(1),
                      position_id="P1")
    ex.on_price("BTCUSDT", D(98), at(2))
    events = ex.drain()
    assert [f.ref.order_id for f in fills(events)] == ["e1"]
    assert _refused(events) == {"tp1": "PRICE_RELATIONSHIP", "tp1s": "PRICE_RELATIONSHIP",
                                "stop": "STOP_WOULD_TRIGGER"}
    assert ex.accounts["a1"].holds == {}


def test_bracket_entry_filled_beyond_its_take_profit_gets_that_oco_refused() -> None:
    """Filled at 111, above the 110 take-profit: Binance refuses that OCO (its limit-maker
    leg would take); the lone stop for the rest is placed."""
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "2"), plan, at(1),
                      position_id="P1")
    ex.on_price("BTCUSDT", D(111), at(2))
    events = ex.drain()
    assert _refused(events) == {"tp1": "PRICE_RELATIONSHIP", "tp1s": "PRICE_RELATIONSHIP"}
    assert [e.ref.order_id for e in events if isinstance(e, Accepted)] == ["e1", "stop"]


def test_stop_moved_through_the_market_is_refused_and_the_old_stop_kept() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="95"), at(3))
    ex.drain()
    ex.replace("a1", "default", "s1", "s2", None, None, D(101), at(4))
    events = ex.drain()
    assert _refused(events) == {"s2": "STOP_WOULD_TRIGGER"}
    assert not [e for e in events if isinstance(e, Replaced)]
    assert ("a1", "s1") in ex.orders and ex.accounts["a1"].locked("BTC") == D(1)


def test_oco_stop_leg_moved_through_the_market_is_refused_as_its_list_would_be() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D(1), "s1", D(95), None, "t1",
                  D(110), at(3))
    ex.drain()
    ex.replace("a1", "default", "s1", "s2", None, None, D(101), at(4))
    assert _refused(ex.drain()) == {"s2": "PRICE_RELATIONSHIP"}
    assert ("a1", "s1") in ex.orders and ("a1", "t1") in ex.orders


def test_stop_through_a_stale_last_price_is_judged_by_the_next_price_not_refused() -> None:
    """paper's last price may be old (restored after a restart, a quiet symbol): Binance judges
    against the current price, which paper does not know yet. The stop is accepted as before
    and acts on the next price; one through the fresh price is still refused."""
    ex = exchange()  # last price 100 at T0
    _buy(ex, "1")  # filled at 100 at 2 s
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="101"), at(60))
    events = ex.drain()
    assert _refused(events) == {} and "s1" in {e.ref.order_id for e in events if isinstance(e, Accepted)}
    ex.on_price("BTCUSDT", D(102), at(61))  # the market was above the stop after all
    assert [f for f in fills(ex.drain()) if f.ref.order_id == "s1"] == []
    ex.submit("a1", "default", spec("s2", "SELL", "STOP_MARKET", "0.5", stop="103"), at(62))
    assert _refused(ex.drain()) == {"s2": "STOP_WOULD_TRIGGER"}
