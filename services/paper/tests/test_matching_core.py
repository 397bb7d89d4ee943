"""The pure matching core: order types, linkage, gaps, fees and balances (no I/O)."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import Candle, Liquidity, Side, Timeframe
from robson_paper.domain import Links, plan_of
from robson_paper.domain.events import Accepted, Canceled, Expired, Rejected, Replaced

from .helpers import D, at, exchange, fills, names, spec


def test_market_buy_fills_at_next_price_plus_slippage_with_taker_fee_in_quote() -> None:
    ex = exchange(slippage="10")
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "1"), at(1))
    assert names(ex.drain()) == ["BalanceChanged", "Accepted"]
    ex.on_price("BTCUSDT", D(200), at(2))
    (fill,) = fills(ex.drain())
    assert fill.price == D("200.20")  # 200 * (1 + 10 bps)
    assert fill.fee == D("0.2002") and fill.fee_asset == "USDT"
    assert fill.liquidity is Liquidity.TAKER and fill.at == at(2)
    acc = ex.accounts["a1"]
    assert acc.free == {"USDT": D(10000) - D("200.20") - D("0.2002"), "BTC": D(1)}
    assert acc.holds == {}


def test_buy_limit_holds_quote_and_fills_at_limit_as_maker_when_price_trades_down() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "2", price="90"), at(1))
    acc = ex.accounts["a1"]
    assert acc.locked("USDT") == D("180.18")  # 2 * 90 * 1.001
    ex.on_price("BTCUSDT", D("90.5"), at(2))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D(85), at(3))
    (fill,) = fills(ex.drain())
    assert (fill.price, fill.quantity, fill.liquidity) == (D(90), D(2), Liquidity.MAKER)
    assert acc.free["USDT"] == D(10000) - D(180) - D("0.18")
    assert acc.holds == {}


def test_limit_with_through_tick_rule_does_not_fill_on_touch() -> None:
    ex = exchange(limit_through_ticks=1)
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "1", price="90"), at(1))
    ex.on_price("BTCUSDT", D(90), at(2))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D("89.99"), at(3))
    assert fills(ex.drain())[0].price == D(90)


def test_stop_market_gapping_through_fills_at_gap_price_not_stop() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="95"), at(2))
    ex.on_price("BTCUSDT", D(90), at(3))
    (fill,) = fills(ex.drain())
    assert fill.price == D(90)


def test_stop_crossed_inside_candle_path_fills_at_stop() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="95"), at(2))
    ex.on_candle(_candle(o="99", h="101", lo="90", c="92", start=60))
    (fill,) = fills(ex.drain())
    assert fill.price == D(95)


def test_candle_opening_below_stop_fills_at_the_open() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="95"), at(2))
    ex.on_candle(_candle(o="91", h="93", lo="88", c="92", start=60))
    assert fills(ex.drain())[0].price == D(91)


def test_same_candle_path_decides_stop_before_take_profit_when_low_is_nearer() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", _sell(), D(1), "s1", D(95), None, "t1", D(110),
                  at(2))
    ex.drain()
    # open 100: low 94 is nearer than high 111, so the path visits the low first.
    ex.on_candle(_candle(o="100", h="111", lo="94", c="105", start=60))
    events = ex.drain()
    (fill,) = fills(events)
    assert fill.ref.order_id == "s1" and fill.price == D(95)
    assert [e.ref.order_id for e in events if isinstance(e, Canceled)] == ["t1"]


def test_same_candle_path_decides_take_profit_first_when_high_is_nearer() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", _sell(), D(1), "s1", D(95), None, "t1", D(110),
                  at(2))
    ex.on_candle(_candle(o="100", h="111", lo="88", c="105", start=60))
    (fill,) = fills(ex.drain())
    assert fill.ref.order_id == "t1" and fill.price == D(110)


def test_oco_holds_base_once_and_releases_it_when_a_leg_fills() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", _sell(), D(1), "s1", D(95), None, "t1", D(110),
                  at(2))
    acc = ex.accounts["a1"]
    assert acc.locked("BTC") == D(1) and acc.free["BTC"] == 0
    ex.on_price("BTCUSDT", D(111), at(3))
    assert acc.holds == {} and acc.free["BTC"] == 0
    assert acc.free["USDT"] == D(10000) - D("100.1") + D(110) - D("0.11")


def test_oco_with_take_profit_below_stop_is_rejected_with_reason() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", _sell(), D(1), "s1", D(95), None, "t1", D(90),
                  at(2))
    (rejected,) = [e for e in ex.drain() if isinstance(e, Rejected)]
    assert rejected.code == "OCO_PRICES"


def test_bracket_releases_children_on_entry_fill_and_take_profit_cancels_stop() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "2"), plan, at(1),
                      position_id="P1")
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    accepted = [e.ref.order_id for e in events if isinstance(e, Accepted)]
    assert accepted == ["e1", "tp1", "tp1s", "stop"]
    children = {e.ref.order_id: e for e in events if isinstance(e, Accepted)}
    assert children["tp1"].spec.quantity == D(1) and children["stop"].spec.quantity == D(1)
    assert children["tp1"].ref.parent_order_id == "e1" and children["tp1"].ref.position_id == "P1"
    assert ex.accounts["a1"].locked("BTC") == D(2)
    ex.on_price("BTCUSDT", D(110), at(3))
    events = ex.drain()
    assert [f.ref.order_id for f in fills(events)] == ["tp1"]
    assert [e.ref.order_id for e in events if isinstance(e, Canceled)] == ["tp1s"]
    ex.on_price("BTCUSDT", D(94), at(4))
    assert [f.ref.order_id for f in fills(ex.drain())] == ["stop"]
    assert ex.accounts["a1"].holds == {} and ex.accounts["a1"].free["BTC"] == 0


def test_bracket_partial_entry_fills_release_proportional_children() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "2", price="100"), plan, at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.5"))
    events = ex.drain()
    assert fills(events)[0].quantity == D("0.5") and fills(events)[0].remaining == D("1.5")
    sizes = {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)}
    assert sizes == {"tp1": D("0.25"), "tp1s": D("0.25"), "stop": D("0.25")}
    ex.on_price("BTCUSDT", D(99), at(3), quantity=D(5))
    grown = {e.ref.order_id: e.spec.quantity for e in ex.drain() if isinstance(e, Replaced)}
    assert grown == {"tp1": D(1), "tp1s": D(1), "stop": D(1)}
    assert ex.accounts["a1"].locked("BTC") == D(2)


def test_ioc_fills_available_volume_and_expires_rest_while_fok_expires_whole() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("i1", "BUY", "LIMIT", "2", price="101", tif="IOC"), at(1))
    ex.submit("a1", "default", spec("f1", "BUY", "LIMIT", "2", price="101", tif="FOK"), at(1))
    ex.on_price("BTCUSDT", D(100), at(2), quantity=D(1))
    events = ex.drain()
    assert [(f.ref.order_id, f.quantity) for f in fills(events)] == [("i1", D(1))]
    assert sorted(e.ref.order_id for e in events if isinstance(e, Expired)) == ["f1", "i1"]
    assert ex.accounts["a1"].holds == {}


def test_stop_limit_gapping_past_its_limit_rests_as_limit() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("sl", "SELL", "STOP_LIMIT", "1", price="94", stop="95"), at(2))
    ex.on_price("BTCUSDT", D(90), at(3))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D("94.5"), at(4))
    assert fills(ex.drain())[0].price == D(94)


def test_sell_stop_limit_marketable_where_it_triggers_fills_at_the_gap_price_not_its_limit() -> None:
    # stop 95, limit 90: a tick at 93 triggers it and the sell limit at 90 is marketable at 93;
    # it takes the price it meets, as a marketable limit does, not its worst allowed price.
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("sl", "SELL", "STOP_LIMIT", "1", price="90", stop="95"), at(2))
    ex.on_price("BTCUSDT", D(93), at(3))
    (fill,) = fills(ex.drain())
    assert (fill.price, fill.liquidity) == (D(93), Liquidity.TAKER)
    assert ex.accounts["a1"].free["USDT"] == D(10000) - D("100.1") + D(93) - D("0.093")


def test_buy_stop_limit_crossed_on_a_path_fills_at_its_stop_not_its_limit() -> None:
    # a short's protective buy stop 105 / limit 110, crossed while the price sweeps 101 → 108:
    # it triggers at 105, where the buy limit 110 is marketable, so it fills at 105.
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000)}, allow_short=True)
    ex.submit("a1", "default", spec("s", "SELL", "MARKET", "1"), at(0.5))
    ex.on_price("BTCUSDT", D(100), at(1))
    ex.submit("a1", "default", spec("bs", "BUY", "STOP_LIMIT", "1", price="110", stop="105"), at(2))
    ex.drain()
    ex.on_price("BTCUSDT", D(101), at(3))
    ex.on_price("BTCUSDT", D(108), at(4), continuous=True)
    (fill,) = fills(ex.drain())
    assert fill.price == D(105)


def test_take_profit_market_order_triggers_when_price_rises_to_it() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("tp", "SELL", "TAKE_PROFIT", "1", stop="105"), at(2))
    ex.on_price("BTCUSDT", D(104), at(3))
    assert fills(ex.drain()) == []
    ex.on_price("BTCUSDT", D(106), at(4))
    assert fills(ex.drain())[0].price == D(106)


def test_cancel_releases_reserved_funds() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "1", price="90"), at(1))
    ex.cancel("a1", "default", "BTCUSDT", "l1", None, at(2))
    assert "Canceled" in names(ex.drain())
    assert ex.accounts["a1"].holds == {} and ex.accounts["a1"].free["USDT"] == D(10000)


def test_replace_amends_price_and_quantity_keeping_oco_link() -> None:
    ex = exchange()
    _buy(ex, "2")
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", _sell(), D(1), "s1", D(95), None, "t1", D(110),
                  at(2))
    ex.drain()
    ex.replace("a1", "default", "s1", "s2", D(2), None, D(97), at(3))
    (replaced,) = [e for e in ex.drain() if isinstance(e, Replaced)]
    assert replaced.ref.order_id == "s1" and replaced.spec.order_id == "s2"
    assert replaced.spec.stop_price == D(97) and replaced.spec.quantity == D(2)
    assert ex.accounts["a1"].locked("BTC") == D(2)
    ex.on_price("BTCUSDT", D(96), at(4))
    events = ex.drain()
    assert [f.ref.order_id for f in fills(events)] == ["s2"]
    assert [e.ref.order_id for e in events if isinstance(e, Canceled)] == ["t1"]


def test_venue_validation_rejects_with_reason_codes() -> None:
    ex = exchange(strict_filters=True)
    cases = {
        "UNKNOWN_SYMBOL": spec("x1", "BUY", "LIMIT", "1", price="1", symbol="FOOUSDT"),
        "PRICE_FILTER": spec("x2", "BUY", "LIMIT", "1", price="90.001"),
        "LOT_SIZE": spec("x3", "BUY", "LIMIT", "0.000001", price="90"),
        "MIN_NOTIONAL": spec("x4", "BUY", "LIMIT", "0.01", price="90"),
        "INSUFFICIENT_BALANCE": spec("x5", "BUY", "LIMIT", "1000", price="90"),
    }
    for code, order in cases.items():
        ex.submit("a1", "default", order, at(1))
        (rejected,) = [e for e in ex.drain() if isinstance(e, Rejected)]
        assert rejected.code == code, rejected
    ex.submit("a1", "default", spec("x6", "SELL", "LIMIT", "1", price="120"), at(1))
    assert [e.code for e in ex.drain() if isinstance(e, Rejected)] == ["INSUFFICIENT_BALANCE"]


def test_lenient_filters_round_quantity_down_and_price_to_tick() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("r1", "BUY", "LIMIT", "0.123456789", price="90.004"), at(1))
    (accepted,) = [e for e in ex.drain() if isinstance(e, Accepted)]
    assert accepted.spec.quantity == D("0.12345") and accepted.spec.price == D("90.00")


def test_short_sell_needs_allow_short_and_tracks_borrowed_asset() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000)}, allow_short=True)
    ex.submit("a1", "default", spec("s1", "SELL", "MARKET", "1"), at(1), Links())
    ex.on_price("BTCUSDT", D(100), at(2))
    acc = ex.accounts["a1"]
    assert acc.borrowed == {"BTC": D(1)} and acc.free["USDT"] == D(1000) + D(100) - D("0.1")
    ex.submit("a1", "default", spec("b1", "BUY", "MARKET", "1"), at(3))
    ex.on_price("BTCUSDT", D(90), at(4))
    assert acc.borrowed == {} and acc.free.get("BTC", D(0)) == 0


def test_duplicate_order_id_is_rejected() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "1", price="90"), at(1))
    ex.submit("a1", "default", spec("l1", "BUY", "LIMIT", "1", price="90"), at(1))
    assert [e.code for e in ex.drain() if isinstance(e, Rejected)] == ["DUPLICATE_ORDER"]


def test_candle_points_already_covered_by_ticks_are_not_applied_again() -> None:
    ex = exchange()
    _buy(ex, "1")
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "1", stop="95"), at(2))
    ex.on_price("BTCUSDT", D(99), at(200))
    assert ex.on_candle(_candle(o="99", h="101", lo="90", c="92", start=60)) == 0
    assert fills(ex.drain()) == []


def test_oco_buy_stop_gapping_past_the_shared_hold_fills_what_is_paid_and_ends_both_legs() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000)}, False)
    # one hold for both legs, the larger need: the stop's 9×105×1.02×1.001 = 964.8639
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.BUY, D(9), "s1", D(105), None, "t1",
                  D(50), at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(120), at(2))  # gaps through 105: 9 BTC would cost 1081.08
    events = ex.drain()
    (fill,) = fills(events)
    assert (fill.ref.order_id, fill.quantity, fill.price, fill.fee) == ("s1", D("8.325"), D(120),
                                                                       D("0.999"))
    ended = {e.ref.order_id: (type(e).__name__, e.remaining) for e in events
             if isinstance(e, Expired | Canceled)}
    assert ended == {"s1": ("Expired", D("0.675")), "t1": ("Canceled", D(9))}
    acc = ex.accounts["a1"]
    assert acc.free == {"USDT": D("0.001"), "BTC": D("8.325")}  # 1000 - 999 - 0.999
    assert acc.holds == {} and ex.orders == {}


def _buy(ex, qty: str) -> None:
    ex.submit("a1", "default", spec("buy-" + qty, "BUY", "MARKET", qty), at(0.5))
    ex.on_price("BTCUSDT", D(100), at(1))
    ex.drain()


def _sell():
    return Side.SELL


def _candle(o: str, h: str, lo: str, c: str, start: float) -> Candle:
    return Candle(occurred_at=at(start + 60), symbol="BTCUSDT", timeframe=Timeframe.M1,
                  open_time=at(start), close_time=at(start + 60), open=D(o), high=D(h), low=D(lo),
                  close=D(c), volume=Decimal(1))


def test_volatility_slippage_scales_from_5_to_10_bps_with_recent_range() -> None:
    from robson_paper.domain.slippage import VolatilityScaled

    model = VolatilityScaled()
    assert model.bps(None) == D(5)
    assert model.bps(D("0.01")) == D("7.5")
    assert model.bps(D("0.5")) == D(10)


def test_bracket_with_take_profits_covering_all_gives_the_rounding_rest_to_the_last_one() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5")),
                                         ("tp2", "tp2s", D(120), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.14923"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    sizes = {e.ref.order_id: e.spec.quantity for e in ex.drain() if isinstance(e, Accepted)}
    # 0.14923 / 2 rounds down to the 0.00001 step: the last take-profit takes the odd step, so
    # no 0.00001 of dust is left under a lone stop that no venue would let you close.
    assert sizes == {"e1": D("0.14923"), "tp1": D("0.07461"), "tp1s": D("0.07461"),
                     "tp2": D("0.07462"), "tp2s": D("0.07462")}


def test_market_buy_gapping_past_its_hold_fills_what_the_account_can_pay_and_expires_the_rest() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000)}, False)
    ex.submit("a1", "default", spec("m1", "BUY", "MARKET", "9"), at(1))  # holds 9×100×1.02×1.001
    ex.drain()
    ex.on_price("BTCUSDT", D(150), at(2))  # 9 BTC now cost 1351.35 with the fee: 1000 pays 6.66
    events = ex.drain()
    (fill,) = fills(events)
    assert (fill.quantity, fill.price, fill.fee) == (D("6.66"), D(150), D("0.999"))
    (expired,) = [e for e in events if isinstance(e, Expired)]
    assert expired.reason.startswith("INSUFFICIENT_BALANCE") and expired.remaining == D("2.34")
    acc = ex.accounts["a1"]
    assert acc.free == {"USDT": D("0.001"), "BTC": D("6.66")}  # 1000 - 999 - 0.999
    assert acc.holds == {} and ex.orders == {}
