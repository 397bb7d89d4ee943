"""A replay publishes each candle as four path ticks (open, nearer extreme, farther extreme,
close). A stop crossed between two ticks of one candle fills at its stop; a candle that opens
beyond the stop fills it at the open. Fills hand-computed below (no slippage, 0.1% taker fee)."""

from __future__ import annotations

from robson_contracts.pricepath import candle_path
from robson_paper.domain import Exchange
from robson_paper.domain.matching import path_point

from .helpers import D, at, exchange, fills, spec

OPEN_MS = int(at(60).timestamp() * 1000)


def _ticks(ex: Exchange, o: str, h: str, lo: str, c: str, start: float = 60) -> None:
    open_ms = int(at(start).timestamp() * 1000)
    for i, p in enumerate(candle_path(at(start), at(start + 60), D(o), D(h), D(lo), D(c))):
        ex.on_tick("BTCUSDT", p.price, p.at, trade_id=f"path-1m-{open_ms}-{i}")


def _long_with_stop(stop: str) -> Exchange:
    ex = exchange()
    ex.submit("a1", "default", spec("buy", "BUY", "MARKET", "1"), at(0.5))
    ex.on_price("BTCUSDT", D(100), at(1))
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop=stop), at(2))
    ex.drain()
    return ex


def test_stop_crossed_between_path_ticks_fills_at_its_stop_not_the_low() -> None:
    ex = _long_with_stop("95")
    _ticks(ex, o="99", h="101", lo="90", c="92")  # path 99 → 90 → 101 → 92
    (fill,) = fills(ex.drain())
    assert fill.price == D(95)  # not the tick's 90
    assert fill.fee == D("0.095")  # 95 × 1 × 0.1%


def test_candle_gapping_through_the_stop_fills_at_its_open() -> None:
    ex = _long_with_stop("95")
    _ticks(ex, o="91", h="93", lo="88", c="92")  # opens below the stop
    (fill,) = fills(ex.drain())
    assert fill.price == D(91) and fill.fee == D("0.091")


def test_traded_price_through_a_stop_is_a_gap_and_fills_at_that_price() -> None:
    ex = _long_with_stop("95")
    ex.on_tick("BTCUSDT", D(99), at(61), trade_id="12345")
    ex.on_tick("BTCUSDT", D(90), at(62), trade_id="12346")
    assert fills(ex.drain())[0].price == D(90)


def test_path_tick_of_a_candle_whose_open_was_not_seen_is_a_gap() -> None:
    ex = _long_with_stop("95")
    ex.on_tick("BTCUSDT", D(90), at(80), trade_id=f"path-1m-{OPEN_MS}-1")
    assert fills(ex.drain())[0].price == D(90)


def test_path_point_reads_signal_trade_ids_and_ignores_others() -> None:
    assert path_point(f"path-5m-{OPEN_MS}-2") == (at(60), 2)
    assert path_point("path-5m-x-2") is None
    assert path_point("987") is None and path_point(None) is None


def test_bracket_children_off_the_tick_grid_are_rounded_like_single_orders() -> None:
    from robson_paper.domain import plan_of
    from robson_paper.domain.events import Accepted

    ex = exchange()  # BTCUSDT tick 0.01
    plan = plan_of(D("95.0049"), None, "stop", [("tp", "tps", D("110.2578"), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "1"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    children = {e.ref.order_id: e.spec for e in ex.drain() if isinstance(e, Accepted)}
    assert children["tp"].price == D("110.26") and children["tps"].stop_price == D("95.00")
    ex.on_price("BTCUSDT", D(111), at(3))
    assert fills(ex.drain())[0].price == D("110.26")


def test_strict_filters_refuse_a_bracket_with_an_off_grid_take_profit() -> None:
    from robson_paper.domain import plan_of
    from robson_paper.domain.events import Rejected

    ex = exchange(strict_filters=True)
    plan = plan_of(D(95), None, "stop", [("tp", "tps", D("110.2578"), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "1"), plan, at(1))
    (rejected,) = [e for e in ex.drain() if isinstance(e, Rejected)]
    assert rejected.code == "PRICE_FILTER" and "take_profit.price" in rejected.message


def test_bracket_measured_from_the_fill_places_children_at_the_same_distance_from_it() -> None:
    from robson_paper.domain import plan_of
    from robson_paper.domain.events import Accepted

    ex = exchange()
    # measured from 100: stop 1% below, take-profit 2% above; the entry fills at 110
    plan = plan_of(D(99), None, "stop", [("tp", "tps", D(102), D(1))], reference=D(100))
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "1"), plan, at(1))
    ex.on_price("BTCUSDT", D(110), at(2))
    children = {e.ref.order_id: e.spec for e in ex.drain() if isinstance(e, Accepted)}
    assert children["tps"].stop_price == D("108.90") and children["tp"].price == D("112.20")
