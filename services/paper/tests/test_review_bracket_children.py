"""Review of bracket children admitted as plain orders (3fd773a): scenarios where paper places
too much, too little, or what Binance would refuse, or loses track of a hold."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import Side
from robson_paper.domain import plan_of
from robson_paper.domain.events import Accepted, Rejected
from robson_paper.domain.exchange import Exchange

from .helpers import D, at, exchange, fills, spec


def _refusals(events: list[object]) -> dict[str, tuple[str, str]]:
    return {e.ref.order_id: (e.code, e.message) for e in events if isinstance(e, Rejected)}


def _children(ex: Exchange, parent: str = "e1") -> dict[str, Decimal]:
    """The parent's live children and their quantities."""
    return {o.order_id: o.quantity for o in ex.orders.values() if o.parent_order_id == parent}


def _held(ex: Exchange, asset: str = "BTC") -> Decimal:
    acc = ex.accounts["a1"]
    return acc.free.get(asset, D(0)) + acc.locked(asset)


# --- sizing: children never grow beyond what the entry filled ------------------------------


def test_review_bracket_with_two_take_profits_filled_a_step_at_a_time_keeps_all_it_holds_protected_and_refuses_nothing() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5")),
                                         ("tp2", "tp2s", D(120), D("0.25"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan,
                      at(1), position_id="P1")
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.40003"))
    assert _refusals(ex.drain()) == {}
    assert _children(ex) == {"tp1": D("0.20001"), "tp1s": D("0.20001"), "tp2": D("0.10000"),
                             "tp2s": D("0.10000"), "stop": D("0.10002")}
    # One step more (a trade of the minimum size): the split of 0.40004 is 0.20002 / 0.10001 /
    # 0.10001 — the lone stop's share went *down* a step while both take-profits went up one.
    ex.on_price("BTCUSDT", D(99), at(3), quantity=D("0.00001"))
    events = ex.drain()
    # Nothing here is refused by a venue: the account holds exactly what its children sell.
    assert _refusals(events) == {}
    sizes = _children(ex)
    protected = sizes.get("tp1", D(0)) + sizes.get("tp2", D(0)) + sizes.get("stop", D(0))
    assert protected == _held(ex) == D("0.40004")
    ex.on_price("BTCUSDT", D(99), at(4), quantity=D(1))  # the rest of the entry fills
    events = ex.drain()
    assert _refusals(events) == {}
    assert _children(ex) == {"tp1": D("0.5"), "tp1s": D("0.5"), "tp2": D("0.25"),
                             "tp2s": D("0.25"), "stop": D("0.25")}
    assert ex.accounts["a1"].locked("BTC") == _held(ex) == D(1)


# --- an OCO child Binance would refuse for its prices against the market --------------------
# Live, execution places each bracket OCO through orderList/oco with the take-profit as a
# LIMIT_MAKER (runtime/params.py, handlers/commands.py ``oco_rows``). Binance takes a SELL OCO
# only when LIMIT_MAKER price > last price > stop price (BUY: the reverse) and refuses the whole
# list otherwise (-2010), so a take-profit already through the market is never filled live.


# --- holds: a refused list gives back only what it held ---------------------------------------


def test_review_bracket_oco_refused_for_a_stop_id_in_use_leaves_the_open_order_its_hold() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(1), "USDT": D(1000)}, False)
    ex.submit("a1", "default", spec("x", "SELL", "STOP_MARKET", "0.5", stop="90"), at(1))
    assert ex.accounts["a1"].holds == {"x": {"BTC": D("0.5")}}
    # the bracket's take-profit OCO names the open order's id as its stop
    plan = plan_of(D(95), None, "stop", [("tp1", "x", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.2"), plan, at(2))
    ex.on_price("BTCUSDT", D(100), at(3))
    events = ex.drain()
    assert _refusals(events)["x"][0] == "DUPLICATE_ORDER"
    assert ("a1", "x") in ex.orders  # the open stop is still live ...
    acc = ex.accounts["a1"]
    # ... and still holds the 0.5 BTC it sells: only the refused OCO's own hold is undone
    assert acc.holds.get("x") == {"BTC": D("0.5")}
    assert acc.free["BTC"] == D("1.2") - D("0.5") - D("0.1")  # held 1.2: x 0.5, lone stop 0.1


def test_review_plain_oco_refused_for_a_stop_id_in_use_leaves_the_open_order_its_hold() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(1)}, False)
    ex.submit("a1", "default", spec("s1", "SELL", "STOP_MARKET", "0.5", stop="90"), at(1))
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D("0.2"), "s1", D(95), None, "t1",
                  D(110), at(2))
    assert _refusals(ex.drain())["t1"][0] == "DUPLICATE_ORDER"
    acc = ex.accounts["a1"]
    assert ("a1", "s1") in ex.orders
    assert acc.holds == {"s1": {"BTC": D("0.5")}} and acc.free["BTC"] == D("0.5")


# --- a child never placed must be reported ------------------------------------------------------


def test_review_bracket_stop_whose_id_a_finished_order_used_is_rejected_not_silently_dropped() -> None:
    ex = exchange()
    ex.submit("a1", "default", spec("stop", "BUY", "MARKET", "0.1"), at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    assert [f.ref.order_id for f in fills(ex.drain())] == ["stop"]  # "stop" is used and finished
    plan = plan_of(D(95), None, "stop", [])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.1"), plan, at(3),
                      position_id="P1")
    ex.on_price("BTCUSDT", D(100), at(4))
    events = ex.drain()
    assert [f.ref.order_id for f in fills(events)] == ["e1"]
    # a plain order reusing a used id is refused DUPLICATE_ORDER (README: children too); the
    # owner, tracking its stop, must hear of it rather than wait for it for ever
    assert _refusals(events).get("stop", ("NOTHING SENT", ""))[0] == "DUPLICATE_ORDER"


def _reload(ex: Exchange, order_id: str, drop: str | None = None) -> None:
    """As the store reloads a live order (``drop``: a plan field an older version did not store)."""
    from robson_paper.domain.model import Order

    entry = ex.orders[("a1", order_id)]
    data = entry.to_json()
    if drop is not None:
        del data["bracket"][drop]
    ex._unplace(entry)
    ex.place(Order.from_json(data))


def test_children_placed_before_a_reload_are_resized_not_placed_again_and_a_filled_one_stays_gone() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan,
                      at(1), position_id="P1")
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.4"))
    ex.drain()
    assert ex.orders[("a1", "e1")].bracket.placed == ["tp1", "tp1s", "stop"]
    _reload(ex, "e1")
    ex.on_price("BTCUSDT", D(99), at(3), quantity=D("0.2"))  # 0.6 filled: children resized
    events = ex.drain()
    assert [e.ref.order_id for e in events if isinstance(e, Accepted)] == []
    assert _children(ex) == {"tp1": D("0.3"), "tp1s": D("0.3"), "stop": D("0.3")}


def test_a_plan_stored_before_placed_children_were_recorded_still_knows_them_by_their_used_ids() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan,
                      at(1), position_id="P1")
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.4"))
    ex.drain()
    _reload(ex, "e1", drop="placed")
    assert ex.orders[("a1", "e1")].bracket.placed is None
    ex.on_price("BTCUSDT", D(94), at(3), quantity=D("0.1"))  # the stop fills; the entry waits
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(4), quantity=D("0.1"))  # the entry fills more
    events = ex.drain()
    # the stop's id was used by this bracket's own child: not placed a second time, not refused
    assert _refusals(events) == {} and "stop" not in _children(ex)
