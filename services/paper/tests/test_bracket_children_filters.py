"""Bracket children pass the filters a plain order passes (LOT_SIZE, MIN_NOTIONAL, funds, OCO
prices), with the same reason codes and the same event (``Rejected``), so the position learns a
child was refused; one too small for a partial fill waits for more fills, as live does."""

from __future__ import annotations

from robson_contracts import Side
from robson_paper.domain import EngineConfig, Exchange, plan_of
from robson_paper.domain.events import Accepted, Canceled, Rejected, Replaced
from robson_paper.domain.model import Order
from robson_paper.domain.rules import DEFAULT_RULES, rules
from robson_paper.domain.slippage import FixedBps

from .helpers import D, at, exchange, fills, spec


def _children(events: list[object]) -> dict[str, object]:
    return {e.ref.order_id: e for e in events
            if isinstance(e, Accepted | Rejected | Replaced) and e.ref.order_id != "e1"}


def _refusals(events: list[object]) -> dict[str, tuple[str, str]]:
    return {e.ref.order_id: (e.code, e.message) for e in events if isinstance(e, Rejected)}


def _plain_refusal(order: object) -> tuple[str, str]:
    """What a plain order of the same shape is refused with, on a fresh exchange."""
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(10000), "BTC": D(10)}, False)
    ex.submit("a1", "default", order, at(1))  # type: ignore[arg-type]
    (refused,) = [e for e in ex.drain() if isinstance(e, Rejected)]
    return refused.code, refused.message


def test_bracket_take_profit_below_min_notional_is_rejected_with_its_reason() -> None:
    ex = exchange()  # BTCUSDT: min notional 5
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.3"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.1"), plan, at(1),
                      position_id="P1")
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    # 0.03 × 110 = 3.3 < 5: a venue refuses the take-profit, so its OCO (with tp1s) is refused
    refused = _refusals(events)
    assert refused["tp1"] == _plain_refusal(spec("x", "SELL", "LIMIT", "0.03", price="110"))
    assert refused["tp1"][0] == "MIN_NOTIONAL"
    assert refused["tp1s"][0] == "MIN_NOTIONAL" and "tp1" in refused["tp1s"][1]
    rejected = {e.ref.order_id: e for e in events if isinstance(e, Rejected)}
    assert rejected["tp1"].ref.position_id == "P1" and rejected["tp1"].ref.list_id == "B1"
    # the lone stop (0.07 × 95 = 6.65) is placed as before
    accepted = {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)}
    assert accepted == {"e1": D("0.1"), "stop": D("0.07")}
    assert ("a1", "tp1") not in ex.orders and ("a1", "tp1s") not in ex.orders
    assert ex.accounts["a1"].holds == {"stop": {"BTC": D("0.07")}}


def test_bracket_lone_stop_below_min_notional_is_rejected_with_its_reason() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.7"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.1"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    # the stop alone protects 0.03: 0.03 × 95 = 2.85 < 5
    assert _refusals(events) == {
        "stop": _plain_refusal(spec("x", "SELL", "STOP_MARKET", "0.03", stop="95"))}
    assert _refusals(events)["stop"][0] == "MIN_NOTIONAL"
    assert {e.ref.order_id for e in events if isinstance(e, Accepted)} == {"e1", "tp1", "tp1s"}
    assert ("a1", "stop") not in ex.orders
    assert ex.accounts["a1"].free["BTC"] == D("0.03")


def test_bracket_child_below_the_minimum_quantity_is_rejected_lot_size() -> None:
    custom = {"BTCUSDT": rules("BTCUSDT", "0.01", "0.00001", min_qty="0.01")}
    ex = Exchange(EngineConfig(slippage=FixedBps(D(0))), custom)
    ex.on_price("BTCUSDT", D(1000), at(0))
    plan = plan_of(D(950), None, "stop", [("tp1", "tp1s", D(1100), D("0.25"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.02"), plan, at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(1000), at(2))
    events = ex.drain()
    # 0.02 × 0.25 = 0.005 < min qty 0.01 (its notional, 5.5, would pass)
    refused = _refusals(events)
    assert refused["tp1"][0] == "LOT_SIZE" and refused["tp1s"][0] == "LOT_SIZE"
    assert "below the minimum 0.01" in refused["tp1"][1]
    assert {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)} == {
        "stop": D("0.015")}


def test_bracket_children_of_a_fill_off_the_step_are_cut_down_to_the_step() -> None:
    ex = exchange()  # BTCUSDT step 0.00001
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan, at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.123456"))  # a traded size off the step
    events = ex.drain()
    assert fills(events)[0].quantity == D("0.123456")
    sizes = {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)}
    # a venue refuses a quantity off the step: the children sell what the step allows
    assert sizes == {"tp1": D("0.12345"), "tp1s": D("0.12345")}
    step = DEFAULT_RULES["BTCUSDT"].step_size
    assert all(q % step == 0 for q in sizes.values())


def test_bracket_children_sell_exactly_the_base_a_buy_entry_left_as_paper_charges_fees_in_quote() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "0.14923"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    (entry_fill,) = fills(events)
    assert entry_fill.fee_asset == "USDT"  # never the base: the BUY gets all it ordered
    acc = ex.accounts["a1"]
    held = acc.free.get("BTC", D(0)) + acc.locked("BTC")
    sizes = {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)}
    assert sizes["tp1"] + sizes["stop"] == held == entry_fill.quantity
    assert sizes["tp1"] == sizes["tp1s"] == D("0.07461") and sizes["stop"] == D("0.07462")


def test_bracket_children_too_small_for_a_first_partial_fill_wait_for_more_fills() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan, at(1))
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.05"))  # halves of 0.05: 2.75 and 2.375
    events = ex.drain()
    assert fills(events)[0].quantity == D("0.05")
    # too small for the venue while the entry can still fill more: nothing placed, nothing refused
    assert _children(events) == {}
    ex.on_price("BTCUSDT", D(99), at(3), quantity=D("0.5"))
    events = ex.drain()
    sizes = {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)}
    assert sizes == {"tp1": D("0.275"), "tp1s": D("0.275"), "stop": D("0.275")}
    assert _refusals(events) == {}
    assert ex.accounts["a1"].locked("BTC") == D("0.55")


def test_bracket_children_still_too_small_when_the_entry_expires_are_rejected_with_their_reason() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(110), D("0.5"))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100", tif="IOC"),
                      plan, at(1), position_id="P1")
    ex.drain()
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.05"))  # IOC: 0.05 fills, the rest expires
    events = ex.drain()
    refused = _refusals(events)
    assert {k: code for k, (code, _) in refused.items()} == {
        "tp1": "MIN_NOTIONAL", "tp1s": "MIN_NOTIONAL", "stop": "MIN_NOTIONAL"}
    assert refused["stop"] == _plain_refusal(spec("x", "SELL", "STOP_MARKET", "0.025", stop="95"))
    assert not [e for e in events if isinstance(e, Accepted)]
    assert ex.orders == {} and ex.accounts["a1"].free["BTC"] == D("0.05")


def test_canceling_a_partly_filled_bracket_entry_refuses_the_children_still_too_small() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan, at(1))
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.03"))  # 0.03 × 95 = 2.85
    assert _children(ex.drain()) == {}
    ex.cancel("a1", "default", "BTCUSDT", "e1", None, at(3))
    events = ex.drain()
    assert [e.ref.order_id for e in events if isinstance(e, Canceled)] == ["e1"]
    assert {k: code for k, (code, _) in _refusals(events).items()} == {"stop": "MIN_NOTIONAL"}


def test_canceling_a_bracket_list_places_no_child_it_was_still_waiting_for() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "LIMIT", "1", price="100"), plan, at(1))
    ex.on_price("BTCUSDT", D(99), at(2), quantity=D("0.03"))
    ex.drain()
    ex.cancel("a1", "default", "BTCUSDT", None, "B1", at(3))  # the owner closes the whole list
    events = ex.drain()
    assert [type(e).__name__ for e in events if not type(e).__name__.startswith("Balance")] == [
        "Canceled"]
    assert ex.orders == {}


def test_bracket_take_profit_already_through_the_market_is_refused_as_binance_refuses_its_oco() -> None:
    """It filled as a taker at the next price (a plain GTC limit marketable on arrival does);
    Binance refuses an OCO whose take-profit is not above the last price (its limit-maker leg
    would take), so the venue's refusal is what position must meet (``test_stop_through_market``)."""
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(105), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "1"), plan, at(1))
    ex.on_price("BTCUSDT", D(110), at(2))  # the entry fills at 110, above its take-profit at 105
    events = ex.drain()
    assert [f.ref.order_id for f in fills(events)] == ["e1"]
    assert {k: v[0] for k, v in _refusals(events).items()} == {"tp1": "PRICE_RELATIONSHIP",
                                                               "tp1s": "PRICE_RELATIONSHIP"}


def test_bracket_child_the_account_cannot_fund_is_rejected_insufficient_balance_not_placed_unfunded() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(9)}, False)
    # sells the 9 BTC it owns: 899.1 USDT; buying them back at a stop of 105 needs ~964.9
    plan = plan_of(D(105), None, "stop", [("tp1", "tp1s", D(90), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "SELL", "MARKET", "9"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    refused = _refusals(events)
    plain = _plain_refusal_for({"USDT": D("899.1")}, spec("x", "BUY", "STOP_MARKET", "9", stop="105"))
    assert plain == ("INSUFFICIENT_BALANCE", "needs 964.86390 USDT, free 899.1")
    # the same need, against what the OCO's shared hold can use (free plus what tp1 held)
    assert refused["tp1s"] == ("INSUFFICIENT_BALANCE", "needs 964.86390 USDT, free 899.10000")
    assert refused["tp1"][0] == "INSUFFICIENT_BALANCE" and "tp1s" in refused["tp1"][1]
    assert {e.ref.order_id for e in events if isinstance(e, Accepted)} == {"e1"}
    acc = ex.accounts["a1"]
    assert acc.holds == {} and acc.free["USDT"] == D("899.1") and ex.orders == {}


def _plain_refusal_for(balances: dict[str, object], order: object) -> tuple[str, str]:
    ex = exchange()
    ex.configure_account("a1", "default", balances, False)  # type: ignore[arg-type]
    ex.submit("a1", "default", order, at(1))  # type: ignore[arg-type]
    (refused,) = [e for e in ex.drain() if isinstance(e, Rejected)]
    return refused.code, refused.message


def test_bracket_with_take_profit_on_the_wrong_side_of_its_stop_refuses_the_oco_children() -> None:
    ex = exchange()
    plan = plan_of(D(95), None, "stop", [("tp1", "tp1s", D(90), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "BUY", "MARKET", "1"), plan, at(1))
    ex.on_price("BTCUSDT", D(100), at(2))
    events = ex.drain()
    # a plain SELL OCO with its take-profit below its stop is refused OCO_PRICES
    refused = _refusals(events)
    assert refused["tp1"][0] == refused["tp1s"][0] == "OCO_PRICES"
    assert {e.ref.order_id for e in events if isinstance(e, Accepted)} == {"e1"}


def test_a_refused_child_is_never_placed_later_even_after_a_reload() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(9)}, False)
    plan = plan_of(D(105), None, "stop", [("tp1", "tp1s", D(90), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "SELL", "LIMIT", "9", price="100"), plan, at(1))
    ex.on_price("BTCUSDT", D(101), at(2), quantity=D(8))  # 8 sold: 799.2, the OCO needs ~857.7
    assert set(_refusals(ex.drain())) == {"tp1", "tp1s"}
    entry = ex.orders[("a1", "e1")]
    reloaded = Order.from_json(entry.to_json())  # as the store reloads a live order
    assert reloaded.bracket is not None and reloaded.bracket.refused == ["tp1", "tp1s"]
    ex._unplace(entry)
    ex.place(reloaded)
    ex.accounts["a1"].free["USDT"] += D(100000)  # funds arrive: still no second life for tp1
    ex.on_price("BTCUSDT", D(101), at(3), quantity=D(8))
    events = ex.drain()
    assert fills(events)[0].ref.order_id == "e1" and _children(events) == {}


def test_oco_whose_take_profit_is_refused_reports_its_stop_refused_too() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(1)}, False)
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.SELL, D("0.03"), "s1", D(95), None, "t1",
                  D(110), at(1), position_id="P1")
    events = ex.drain()
    # 0.03 × 110 = 3.3: the venue refuses the whole list; each leg the owner tracks hears of it
    refused = _refusals(events)
    assert refused["t1"][0] == "MIN_NOTIONAL" and refused["s1"][0] == "MIN_NOTIONAL"
    assert not [e for e in events if isinstance(e, Accepted)]
    assert ex.orders == {} and ex.accounts["a1"].holds == {}


def test_bracket_children_the_account_cannot_fund_at_a_larger_fill_are_refused_not_grown_unfunded() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"BTC": D(9), "USDT": D(1)}, False)
    # a stop-limit buy-back at 100.5 costs 100.6 a BTC with the fee; each sold brings 99.9
    plan = plan_of(D("100.4"), D("100.5"), "stop", [("tp1", "tp1s", D(90), D(1))])
    ex.submit_bracket("a1", "default", "B1", spec("e1", "SELL", "LIMIT", "9", price="100"), plan,
                      at(1), position_id="P1")
    ex.drain()
    ex.on_price("BTCUSDT", D(100), at(2), quantity=D(1))  # 1 sold: 100.9 USDT pays 100.6
    events = ex.drain()
    assert {e.ref.order_id: e.spec.quantity for e in events if isinstance(e, Accepted)} == {
        "tp1": D(1), "tp1s": D(1)}
    ex.on_price("BTCUSDT", D(100), at(3), quantity=D(1))  # 2 sold: 200.8 USDT, 201.2 needed
    events = ex.drain()
    # live, the resize is a cancel and a new order the venue refuses: the owner hears Rejected
    assert [e for e in events if isinstance(e, Replaced)] == []
    refused = _refusals(events)
    assert refused["tp1s"][0] == refused["tp1"][0] == "INSUFFICIENT_BALANCE"
    assert ("a1", "tp1") not in ex.orders and ("a1", "tp1s") not in ex.orders
    acc = ex.accounts["a1"]
    assert acc.holds == {"e1": {"BTC": D(7)}} and acc.free["USDT"] == D("200.8")
    ex.on_price("BTCUSDT", D(100), at(4), quantity=D(7))  # the rest fills: nothing comes back
    events = ex.drain()
    assert fills(events)[0].ref.order_id == "e1" and _children(events) == {}


def test_oco_whose_stop_cannot_be_funded_is_refused_whole_with_both_legs_rejected() -> None:
    ex = exchange()
    ex.configure_account("a1", "default", {"USDT": D(900)}, False)
    ex.submit_oco("a1", "default", "L1", "BTCUSDT", Side.BUY, D(9), "s1", D(105), None, "t1",
                  D(90), at(1))
    events = ex.drain()
    # the take-profit alone (810.81) fits, the stop (964.86) does not: the venue takes neither
    refused = _refusals(events)
    code, message = refused["s1"]
    needs, free = message.split(", free ")
    assert (code, needs, D(free)) == ("INSUFFICIENT_BALANCE", "needs 964.86390 USDT", D(900))
    assert refused["t1"][0] == "INSUFFICIENT_BALANCE"
    assert not [e for e in events if isinstance(e, Accepted | Canceled)]
    assert ex.accounts["a1"].holds == {} and ex.accounts["a1"].free["USDT"] == D(900)
