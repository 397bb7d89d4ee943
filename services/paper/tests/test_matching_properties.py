"""Property tests: conservation of value, no negative balances, holds released on cancel."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from robson_paper.domain.events import Filled
from robson_paper.domain.model import ZERO

from .helpers import D, at, exchange, spec

KINDS = ("MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT", "TAKE_PROFIT", "IOC", "FOK", "OCO")
prices = st.integers(min_value=50, max_value=150).map(Decimal)
qtys = st.sampled_from(["0.1", "0.5", "1", "2", "7"])
actions = st.one_of(
    st.tuples(st.just("order"), st.sampled_from(KINDS), st.sampled_from(["BUY", "SELL"]), qtys,
              prices, prices),
    st.tuples(st.just("price"), prices, st.sampled_from([ZERO, D("0.3"), D(1)])),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30)),
)


def _apply(ex, step: int, action: tuple) -> None:
    t = at(step + 1)
    if action[0] == "price":
        ex.on_price("BTCUSDT", action[1], t, quantity=action[2])
    elif action[0] == "cancel":
        live = sorted(ex.orders.values(), key=lambda o: o.seq)
        if live:
            o = live[action[1] % len(live)]
            ex.cancel(o.account_id, "default", o.symbol, o.order_id, None, t)
    else:
        _, kind, side, qty, p1, p2 = action
        oid = f"o{step}"
        lo, hi = min(p1, p2), max(p1, p2) + 1
        if kind == "OCO":
            from robson_contracts import Side

            s = Side(side)
            stop, tp = (lo, hi) if s is Side.SELL else (hi, lo)
            ex.submit_oco("a1", "default", f"L{step}", "BTCUSDT", s, D(qty), oid + "s", stop, None,
                          oid + "t", tp, t)
        elif kind in ("IOC", "FOK"):
            ex.submit("a1", "default", spec(oid, side, "LIMIT", qty, price=str(p1), tif=kind), t)
        elif kind == "MARKET":
            ex.submit("a1", "default", spec(oid, side, "MARKET", qty), t)
        elif kind == "LIMIT":
            ex.submit("a1", "default", spec(oid, side, "LIMIT", qty, price=str(p1)), t)
        elif kind == "STOP_LIMIT":
            ex.submit("a1", "default", spec(oid, side, kind, qty, price=str(p1), stop=str(p2)), t)
        else:
            ex.submit("a1", "default", spec(oid, side, kind, qty, stop=str(p1)), t)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=40), st.booleans())
def test_random_sequences_conserve_value_keep_balances_non_negative_and_release_holds(
    steps: list[tuple], allow_short: bool
) -> None:
    ex = exchange(slippage="7")
    ex.configure_account("a1", "default", {"USDT": D(1000), "BTC": D(3)}, allow_short)
    quote_flow, base_flow, fees = ZERO, ZERO, ZERO
    for i, action in enumerate(steps):
        _apply(ex, i, action)
        for e in ex.drain():
            if isinstance(e, Filled):
                sign = 1 if e.side.value == "BUY" else -1
                base_flow += sign * e.quantity
                quote_flow -= sign * e.quantity * e.price
                fees += e.fee
        acc = ex.accounts["a1"]
        assert all(v >= 0 for v in acc.free.values()), acc.free
        assert all(v >= 0 for h in acc.holds.values() for v in h.values()), acc.holds
        usdt = acc.free.get("USDT", ZERO) + acc.locked("USDT")
        btc = acc.free.get("BTC", ZERO) + acc.locked("BTC") - acc.borrowed.get("BTC", ZERO)
        assert usdt == D(1000) + quote_flow - fees
        assert btc == D(3) + base_flow
        if not allow_short:
            assert acc.borrowed == {}
    for o in sorted(ex.orders.values(), key=lambda o: o.seq):
        if o.live:
            ex.cancel("a1", "default", o.symbol, o.order_id, None, at(1000))
    acc = ex.accounts["a1"]
    assert acc.holds == {} and ex.orders == {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=30), prices, prices)
def test_a_book_fires_within_a_range_exactly_when_some_price_in_it_would_trigger_an_order(
    steps: list[tuple], p1: Decimal, p2: Decimal
) -> None:
    """``fires_within`` (the backtest skips a candle's ticks on it) agrees with
    ``pop_triggered`` tried at every price of the range (levels are whole numbers here)."""
    import copy

    ex = exchange()
    for i, action in enumerate(steps):
        _apply(ex, i, action)
    book = ex.books.get("BTCUSDT")
    if book is None:
        return
    low, high = min(p1, p2), max(p1, p2)
    brute = any(copy.deepcopy(book).pop_triggered(Decimal(p) + frac)
                for p in range(int(low), int(high) + 1) for frac in (ZERO, D("0.5"))
                if low <= Decimal(p) + frac <= high)
    event(f"fires: {brute}")
    assert book.fires_within(low, high) == brute


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=0, max_size=25), st.lists(prices, min_size=4, max_size=4),
       st.one_of(st.none(), st.integers(min_value=0, max_value=70)))
def test_a_candle_applies_as_its_path_walked_price_by_price(
    steps: list[tuple], ohlc: list[Decimal], tick_at: int | None
) -> None:
    """``on_candle`` (which only moves the last price when nothing can act in the candle's
    range) leaves the exchange as walking the candle's path through ``on_price`` does: the same
    events, orders, balances and market state, with and without a tick inside the candle."""
    import copy

    from robson_contracts import Candle, Timeframe
    from robson_contracts.pricepath import candle_path

    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(1000), "BTC": D(3)}, False)
    for i, action in enumerate(steps):
        _apply(ex, i, action)
    ex.drain()
    o, c = ohlc[0], ohlc[1]
    high, low = max(ohlc), min(ohlc)
    start = at(100)
    candle = Candle(occurred_at=at(160), symbol="BTCUSDT", timeframe=Timeframe.M1,
                    open_time=start, close_time=at(160), open=o, high=high, low=low, close=c,
                    volume=D(1))
    if tick_at is not None:
        ex.on_price("BTCUSDT", ohlc[2], at(90 + tick_at))
        ex.drain()
    walked = copy.deepcopy(ex)
    applied = ex.on_candle(candle)
    state = walked.market("BTCUSDT")
    points = [p for p in candle_path(start, at(160), o, high, low, c) if not state.seen(p.at)]
    for i, point in enumerate(points):
        walked.on_price("BTCUSDT", point.price, point.at, continuous=i > 0)
    got, want = ex.drain(), walked.drain()
    event(f"acted: {bool(want)}")
    assert applied == len(points)
    assert got == want
    assert (ex.market("BTCUSDT").last_price, ex.market("BTCUSDT").last_time) == \
        (state.last_price, state.last_time)
    assert {k: (o.live, o.remaining) for k, o in ex.orders.items()} == \
        {k: (o.live, o.remaining) for k, o in walked.orders.items()}
    assert ex.accounts["a1"].free == walked.accounts["a1"].free
    assert ex.accounts["a1"].holds == walked.accounts["a1"].holds
