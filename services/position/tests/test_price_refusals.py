"""Protective orders a venue refuses for their PRICE: already through the market. Binance
refuses a stop that would trigger at once (-2010 "Stop price would trigger immediately.") and
an OCO whose prices are not on either side of the last price (-2010 "The relationship of the
prices for the orders is not correct."); paper refuses them as ``STOP_WOULD_TRIGGER`` and
``PRICE_RELATIONSHIP``. The position then held with no stop until the watchdog's grace had
passed (~10 s), while the price was already past the stop: a stop through the market is a
stop-out (closed at market at once), a take-profit through the market is a take-profit (its
share sold at market at once, the rest kept under its stop)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import (
    CancelOrder,
    ExitReason,
    Modification,
    ModificationKind,
    OrderRole,
    OrderType,
    PositionClosed,
    PositionPartiallyClosed,
    PositionStatus,
    ReplaceOrder,
    Side,
    SubmitOcoOrder,
    SubmitOrder,
    TriggeredBy,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind

from .factories import (
    T0,
    D,
    accepted,
    error_codes,
    exit_orders,
    filled,
    gate,
    minutes,
    refused,
    sent,
)

STOP_WOULD_TRIGGER = [
    pytest.param("LIVE", "BINANCE_2010", "Stop price would trigger immediately.", id="binance"),
    pytest.param("PAPER", "STOP_WOULD_TRIGGER", "SELL stop 49000 would trigger at once (last 48500)",
                 id="paper"),
]
OCO_RELATIONSHIP = [
    pytest.param("LIVE", "BINANCE_2010", "The relationship of the prices for the orders is not correct.",
                 id="binance"),
    pytest.param("PAPER", "PRICE_RELATIONSHIP", "SELL OCO needs take-profit > last price > stop",
                 id="paper"),
]


def _open(venue: str, fill_price: str, tps: tuple[tuple[str, str], ...] = ()) -> Position:
    """LONG 0.2 BTC decided at 50000 (stop 49000), its entry filled at ``fill_price``."""
    p = open_position(gate(tps=tps), venue, T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, fill_price, "0.2", Side.BUY), T0)
    p.outbox.clear()
    return p


def _live(p: Position, kind: OrderKind) -> list:  # type: ignore[type-arg]
    return [o for o in p.s.orders.values() if o.live and o.kind is kind]


def _exit_filled(p: Position, order_id: str, price: str, qty: str) -> None:
    on_order_event(p, filled(p.s.position_id, order_id, OrderRole.EXIT, price, qty, Side.SELL,
                             at=T0 + minutes(2)), T0 + minutes(2))


@pytest.mark.parametrize(("venue", "code", "message"), STOP_WOULD_TRIGGER)
def test_stop_refused_as_already_triggered_closes_at_market(venue: str, code: str, message: str) -> None:
    """The entry filled at 48500, below its 49000 stop: the venue refuses the bracket's stop.
    The position held 0.2 with no stop while the price was already past it."""
    p = _open(venue, "48500")
    pid = p.s.position_id

    on_order_event(p, refused(p, f"{pid}-0S", code, message, minute=1), T0 + minutes(1))

    exits = exit_orders(p)
    assert len(exits) == 1, f"0.2 held below its stop with no stop and nothing sent: {p.outbox}"
    [exit_order] = exits
    assert (exit_order.type, exit_order.quantity) == (OrderType.MARKET, D("0.2"))
    assert p.s.status is PositionStatus.CLOSING
    assert "STOP_THROUGH_MARKET" in error_codes(p)
    p.outbox.clear()
    _exit_filled(p, exit_order.order_id, "48500", "0.2")
    [closed] = sent(p, PositionClosed)
    assert closed.exit_reason is ExitReason.STOP_LOSS  # a stop-out, not a risk flatten


@pytest.mark.parametrize(("venue", "code", "message"), OCO_RELATIONSHIP)
def test_oco_refused_with_its_stop_through_the_market_closes_everything_at_market(
        venue: str, code: str, message: str) -> None:
    """Two take-profit OCOs (51000, 52000; stop 49000) for an entry filled at 48500. The venue
    refuses the first OCO (its take-profit leg reported first, as paper does): the market is
    below its stop, so every stop of the position is through it. Everything held is stopped
    out at once."""
    p = _open(venue, "48500", tps=(("51000", "0.5"), ("52000", "0.5")))
    pid = p.s.position_id

    on_order_event(p, refused(p, f"{pid}-0T0", code, message, minute=1), T0 + minutes(1))

    [exit_order] = exit_orders(p)
    assert exit_order.quantity == D("0.2"), "the stop is through: all of it is stopped out"
    assert not p.s.orders[f"{pid}-0S0"].live, "the refused OCO's stop leg, never placed"
    assert _live(p, OrderKind.STOP) == [] and _live(p, OrderKind.TP) == []
    assert p.s.pending_exit_reason is ExitReason.STOP_LOSS
    assert "STOP_THROUGH_MARKET" in error_codes(p)
    # the other leg's refusal, reported next, changes nothing
    p.outbox.clear()
    on_order_event(p, refused(p, f"{pid}-0S0", code, message, minute=1), T0 + minutes(1))
    assert exit_orders(p) == [] and p.s.status is PositionStatus.CLOSING


@pytest.mark.parametrize(("venue", "code", "message"), OCO_RELATIONSHIP)
def test_take_profit_refused_as_already_passed_sells_its_share_at_market(
        venue: str, code: str, message: str) -> None:
    """The entry filled at 51500, above the first take-profit (51000): that OCO is refused.
    Its 0.1 had no stop and no take-profit. It is sold at market (a take-profit at a better
    price than its target); the other 0.1 stays under its stop and the second take-profit."""
    p = _open(venue, "51500", tps=(("51000", "0.5"), ("52000", "0.5")))
    pid = p.s.position_id

    on_order_event(p, refused(p, f"{pid}-0T0", code, message, minute=1), T0 + minutes(1))

    [exit_order] = exit_orders(p)
    assert (exit_order.type, exit_order.quantity) == (OrderType.MARKET, D("0.1"))
    assert p.s.take_profits[0].canceled and p.s.take_profits[1].live
    held = p.s.remaining - exit_order.quantity
    stops = _live(p, OrderKind.STOP)
    assert sum((o.quantity for o in stops), Decimal(0)) == held == D("0.1"), "held without a stop"
    [oco] = sent(p, SubmitOcoOrder)
    assert (oco.quantity, oco.take_profit_price, oco.stop_price) == (D("0.1"), D("52000"), D("49000"))
    assert "TAKE_PROFIT_THROUGH_MARKET" in error_codes(p)
    p.outbox.clear()
    _exit_filled(p, exit_order.order_id, "51500", "0.1")
    [part] = sent(p, PositionPartiallyClosed)
    assert part.exit_reason is ExitReason.TAKE_PROFIT
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED


@pytest.mark.parametrize(("venue", "code", "message"), STOP_WOULD_TRIGGER)
def test_stop_move_refused_as_through_the_market_closes_at_market(venue: str, code: str,
                                                                    message: str) -> None:
    """The stop is moved up to 50500 while the price falls below it: the venue refuses the
    replacement. Paper keeps the old stop at 49000 (execution cancelled it first); either way
    the move meant "out below 50500", and the price is below: closed at market at once."""
    p = _open(venue, "50000")
    pid = p.s.position_id
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("50500")),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    [replace] = sent(p, ReplaceOrder)
    p.outbox.clear()

    on_order_event(p, refused(p, replace.new_order_id, code, message, minute=1), T0 + minutes(1))

    [exit_order] = exit_orders(p)
    assert exit_order.quantity == D("0.2")
    assert p.s.pending_exit_reason is ExitReason.STOP_LOSS
    cancels = [c.order_id for c in sent(p, CancelOrder)]
    assert cancels == ([f"{pid}-0S"] if venue == "PAPER" else []), "the stop still resting"
    assert "STOP_THROUGH_MARKET" in error_codes(p)


def test_trailed_stop_refused_as_through_the_market_exits_as_a_trailing_stop() -> None:
    p = _open("LIVE", "50000")
    apply_modification(p, Modification(kind=ModificationKind.TRAIL_SL, new_value=D("50500")),
                       TriggeredBy.RULE_ENGINE, gate(), T0 + minutes(1))
    [replace] = sent(p, ReplaceOrder)
    p.outbox.clear()
    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_2010",
                               "Stop price would trigger immediately.", minute=1), T0 + minutes(1))
    assert len(exit_orders(p)) == 1 and p.s.pending_exit_reason is ExitReason.TRAILING_STOP


def test_stop_refused_through_the_market_again_after_its_close_failed_is_left_to_the_watchdog() -> None:
    """The close the refusal sent comes back unfilled (the account could not sell): what is
    held goes back under its stop, refused again for its price. A second close would loop
    stop → refusal → close → refusal for ever, a round trip each: the watchdog judges it."""
    p = _open("LIVE", "48500")
    pid = p.s.position_id
    on_order_event(p, refused(p, f"{pid}-0S", "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))
    [exit_order] = exit_orders(p)
    p.outbox.clear()
    on_order_event(p, refused(p, exit_order.order_id, "BINANCE_2010",
                               "Account has insufficient balance for requested action.", minute=1), T0 + minutes(1))
    [stop] = [m.order for m in sent(p, SubmitOrder) if m.order.role is OrderRole.STOP_LOSS]
    p.outbox.clear()
    on_order_event(p, refused(p, stop.order_id, "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))
    assert exit_orders(p) == []
    assert "STOP_THROUGH_MARKET" in error_codes(p)


def test_other_binance_2010_refusals_of_a_stop_are_not_price_refusals() -> None:
    p = _open("LIVE", "50000")
    pid = p.s.position_id
    on_order_event(p, refused(p, f"{pid}-0S", "BINANCE_2010",
                               "Account has insufficient balance for requested action.", minute=1), T0 + minutes(1))
    assert exit_orders(p) == [] and p.s.status is PositionStatus.OPEN


def test_take_profit_moved_below_the_market_and_refused_sells_its_share_at_market() -> None:
    """The price is at 50800; the first take-profit is moved down to 50600, already passed:
    paper refuses the replacement (and keeps the old OCO). The move meant "take it at 50600
    or better": that share is sold at market, the rest stays under its stop."""
    p = _open("PAPER", "50000", tps=(("51000", "0.5"), ("52000", "0.5")))
    pid = p.s.position_id
    for i in (0, 1):
        for leg, role, otype in (("T", OrderRole.TAKE_PROFIT, OrderType.LIMIT),
                                 ("S", OrderRole.STOP_LOSS, OrderType.STOP_MARKET)):
            level = ("51000", "52000")[i]
            on_order_event(p, accepted(pid, f"{pid}-0{leg}{i}", role, "0.1", Side.SELL, otype,
                                       price=level if leg == "T" else None,
                                       stop="49000" if leg == "S" else None, list_id=f"{pid}-0L{i}"), T0)
    p.mark(D("50800"))
    apply_modification(p, Modification(kind=ModificationKind.MODIFY_TP, tp_index=0, new_value=D("50600")),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    [replace] = sent(p, ReplaceOrder)
    p.outbox.clear()

    on_order_event(p, refused(p, replace.new_order_id, "PRICE_RELATIONSHIP",
                               "SELL OCO take-profit 50600 is not above the last price 50800", minute=1),
                   T0 + minutes(1))

    [exit_order] = exit_orders(p)
    assert exit_order.quantity == D("0.1") and p.s.pending_exit_reason is ExitReason.TAKE_PROFIT
    assert f"{pid}-0L0" in [c.list_id for c in sent(p, CancelOrder)], "the kept OCO still resting"
    stops = _live(p, OrderKind.STOP)
    assert sum((o.quantity for o in stops), Decimal(0)) == D("0.1")
    assert "TAKE_PROFIT_THROUGH_MARKET" in error_codes(p)


def test_a_stop_accepted_again_lets_a_later_refusal_for_its_price_close_at_market() -> None:
    """The guard against a refusal/close loop lasts until a stop works again: a later stop
    move refused for its price (same holding) still closes at market."""
    p = _open("LIVE", "48500")
    pid = p.s.position_id
    on_order_event(p, refused(p, f"{pid}-0S", "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))
    [exit_order] = exit_orders(p)
    on_order_event(p, refused(p, exit_order.order_id, "BINANCE_2010",
                               "Account has insufficient balance for requested action.", minute=1), T0 + minutes(1))
    [stop] = [m.order for m in sent(p, SubmitOrder) if m.order.role is OrderRole.STOP_LOSS]
    on_order_event(p, accepted(pid, stop.order_id, OrderRole.STOP_LOSS, "0.2", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0 + minutes(2))  # price came back
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("49500")),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(3))
    [replace] = sent(p, ReplaceOrder)
    p.outbox.clear()
    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_2010",
                               "Stop price would trigger immediately.", minute=1), T0 + minutes(3))
    assert len(exit_orders(p)) == 1 and p.s.status is PositionStatus.CLOSING
