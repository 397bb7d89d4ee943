"""Review of 1769c18 (a protective order refused for its quantity): scenarios in which the
answer to a refusal leaves money unprotected, abandons a sellable holding as written-off dust,
or keeps a stop resting at the venue that the position no longer knows of.

Every test here asserts the behaviour the change promises ("a position must never be left
unprotected", "only what the venue will neither protect nor sell is written off") and fails on
1769c18."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import (
    CancelOrder,
    ExitReason,
    Message,
    Modification,
    ModificationKind,
    OrderRejected,
    OrderRole,
    OrderSpec,
    OrderType,
    PositionClosed,
    PositionStatus,
    Side,
    SubmitOrder,
    TriggeredBy,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification, request_close
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind

from .factories import T0, D, accepted, filled, gate, minutes


def _open(qty: str = "0.2", venue: str = "LIVE", stop_accepted: bool = True) -> Position:
    """LONG ``qty`` BTC at 50000, its bracket's lone stop at 49000 (accepted by the venue unless
    told otherwise), no take-profit."""
    p = open_position(gate(tps=(), qty=qty), venue, T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", qty, Side.BUY), T0)
    if stop_accepted:
        on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, qty, Side.SELL,
                                   OrderType.STOP_MARKET, stop="49000"), T0)
    p.outbox.clear()
    return p


def _refused(p: Position, order_id: str, code: str, message: str | None = None,
             at_minute: int = 2) -> OrderRejected:
    return OrderRejected(occurred_at=T0 + minutes(at_minute), account_id="acc1", venue=p.s.venue,
                         order_id=order_id, symbol="BTCUSDT", position_id=p.s.position_id,
                         reason_code=code, message=message or f"{code}: refused")


def _sent(p: Position, kind: type[Message]) -> list:  # type: ignore[type-arg]
    return [m for m in p.outbox if isinstance(m, kind)]


def _live(p: Position, *kinds: OrderKind) -> list:  # type: ignore[type-arg]
    return [o for o in p.s.orders.values() if o.live and o.kind in kinds]


def _exit_sent(p: Position) -> SubmitOrder:
    [exit_cmd] = [m for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.EXIT]
    return exit_cmd


# --- a refusal for being too LARGE is not dust -------------------------------------------------

TOO_LARGE = [
    # execution's own filters (robson_execution/domain/rules.py fit_order)
    pytest.param("QUANTITY_ABOVE_MAX", "quantity 0.2 above maxQty 0.1", id="execution-QUANTITY_ABOVE_MAX"),
    pytest.param("NOTIONAL_ABOVE_MAX", "notional 9800 above maxNotional 5000",
                 id="execution-NOTIONAL_ABOVE_MAX"),
    # paper reports min and max alike as LOT_SIZE (robson_paper/domain/rules.py check_qty)
    pytest.param("LOT_SIZE", "quantity 0.2 is above the maximum 0.1", id="paper-LOT_SIZE-above-max"),
]


@pytest.mark.parametrize(("code", "message"), TOO_LARGE)
def test_stop_and_close_refused_as_too_large_never_write_the_holding_off(code: str, message: str) -> None:
    """refusals.QUANTITY_REFUSALS counts QUANTITY_ABOVE_MAX, NOTIONAL_ABOVE_MAX and every
    LOT_SIZE (paper says LOT_SIZE for "above the maximum" too) as "below what the venue
    trades". A holding above the venue's maximum is refused as a stop and as one market close:
    it is then booked closed at the last price and left in the account with no stop at all,
    the largest holding the platform can have, silently abandoned (it is sellable in parts)."""
    p = _open(stop_accepted=False)
    pid = p.s.position_id
    # the bracket's stop for all 0.2 held is refused as too large
    on_order_event(p, _refused(p, f"{pid}-0S", code, message), T0 + minutes(2))
    exits = [m.order for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.EXIT]
    for x in exits:  # the market close of all of it is refused as too large as well
        on_order_event(p, _refused(p, x.order_id, code, message, at_minute=3), T0 + minutes(3))

    assert p.s.written_off == 0, (
        f"{p.s.written_off} BTC ({p.s.written_off * 50000} USDT) refused as too LARGE written off "
        f"as dust: booked closed, left in the account unprotected")
    assert p.s.status is not PositionStatus.CLOSED and not _sent(p, PositionClosed)


# --- the write-off must be of a close of everything held ---------------------------------------

def _close_part(p: Position, fraction: str) -> tuple[OrderSpec, OrderSpec]:
    """The trader closes ``fraction`` of ``p``: the stop sent for what is kept and the exit
    sent (the outbox is cleared after)."""
    assert request_close(p, ExitReason.MANUAL_CLOSE, D(fraction), gate(), T0 + minutes(1))
    [stop] = [m.order for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.STOP_LOSS]
    exit_order = _exit_sent(p).order
    p.outbox.clear()
    return stop, exit_order


def test_half_close_of_a_small_position_refused_in_both_halves_does_not_write_off_the_whole() -> None:
    """0.00016 BTC (8 USDT at 50000, stop 49000: 7.84) under a venue's 5 USDT minimum notional.
    The trader closes half: the stop for the kept 0.00008 (3.92) and the exit of 0.00008 (4.00)
    are each below the minimum. The stop's refusal closes "the rest" (a second exit of
    0.00008, also refused) and records the refusal for all 0.00016 held; the second refused
    exit then writes off all 0.00016, 8 USDT that no order for all of it was ever refused
    for: one market close (8 USDT) or one stop (7.84 USDT) of it is above the minimum.
    ``write_off_refused_exit`` must only write off a holding whose close for all of it was
    refused."""
    p = _open(qty="0.00016")
    pid = p.s.position_id
    stop, first_exit = _close_part(p, "0.5")
    assert (stop.quantity, first_exit.quantity) == (D("0.00008"), D("0.00008"))

    # the venue answers the commands in the order they were sent: the stop, then the exit
    on_order_event(p, _refused(p, stop.order_id, "NOTIONAL_BELOW_MIN",
                               "notional 3.92 below minNotional 5"), T0 + minutes(2))
    second = [m.order for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.EXIT]
    on_order_event(p, _refused(p, first_exit.order_id, "NOTIONAL_BELOW_MIN",
                               "notional 4.00 below minNotional 5"), T0 + minutes(2))
    for x in second:
        on_order_event(p, _refused(p, x.order_id, "NOTIONAL_BELOW_MIN",
                                   "notional 4.00 below minNotional 5", at_minute=3), T0 + minutes(3))

    assert p.s.written_off == 0, (
        f"all {p.s.written_off} BTC written off although only orders for half of it were refused "
        f"(all of it, 8 USDT, is above the 5 USDT minimum)")
    assert p.s.status is not PositionStatus.CLOSED
    held = p.s.remaining
    covered = sum((o.quantity for o in _live(p, OrderKind.STOP, OrderKind.EXIT)), Decimal(0))
    assert covered == held, f"{held} held, {covered} under a stop or being sold ({pid})"


# --- a refused close racing a live exit -------------------------------------------------------

def test_partial_close_whose_remainder_is_refused_then_fills_is_not_left_closing_unprotected() -> None:
    """PAPER (its defaults: a market order fills at the NEXT price, 5 USDT minimum notional):
    0.0003 BTC (15 USDT); the trader closes 80%. The exit of 0.00024 (12 USDT) is accepted and
    waits for the next price; the stop for the 0.00006 kept (2.94 USDT) is refused at once for
    its notional, so the refusal closes the rest at market: 0.00006 (3 USDT), refused at once
    too. That refusal finds the first exit live (no write-off, nothing placed again); then the
    first exit fills: the position stays CLOSING holding 0.00006 with no order at all. Nothing
    ever looks at it again: the watchdog skips CLOSING positions, the rules and close requests
    act only on OPEN ones; the gate counts it open for ever."""
    p = _open(qty="0.0003", venue="PAPER")
    pid = p.s.position_id
    stop, first_exit = _close_part(p, "0.8")
    assert (stop.quantity, first_exit.quantity) == (D("0.00006"), D("0.00024"))

    on_order_event(p, _refused(p, stop.order_id, "MIN_NOTIONAL",
                               "notional 2.94 is below the minimum 5"), T0 + minutes(2))
    [rest] = [m.order for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.EXIT]
    assert rest.quantity == D("0.00006")
    on_order_event(p, _refused(p, rest.order_id, "MIN_NOTIONAL",
                               "notional 3.00 is below the minimum 5"), T0 + minutes(2))
    on_order_event(p, filled(pid, first_exit.order_id, OrderRole.EXIT, "50000", "0.00024", Side.SELL,
                             at=T0 + minutes(3)), T0 + minutes(3))

    assert p.s.remaining == D("0.00006")
    working = _live(p, OrderKind.STOP, OrderKind.TP, OrderKind.EXIT)
    assert p.s.status is PositionStatus.CLOSED or working, (
        f"{p.s.status} holding {p.s.remaining} with no order working and nothing to act on it")


# --- a refused replacement: the venue keeps the old stop --------------------------------------

REPLACE_REFUSALS = [
    # strict paper: a trailing stop off the 0.01 tick (admission's check_price)
    pytest.param("49500.005", "PRICE_FILTER", "stop_price 49500.005 is not a multiple of tick 0.01",
                 id="PRICE_FILTER"),
    # the refusal 1769c18 reasons about: one for the quantity, answered by nothing (``replaces``)
    pytest.param("49500", "MIN_NOTIONAL", "notional is below the minimum", id="MIN_NOTIONAL"),
]


def _moved_and_refused(new_stop: str, code: str, message: str) -> Position:
    p = _open(venue="PAPER")
    pid = p.s.position_id
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D(new_stop)),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    p.outbox.clear()
    on_order_event(p, _refused(p, f"{pid}-1S", code, message), T0 + minutes(2))
    return p


@pytest.mark.parametrize(("new_stop", "code", "message"), REPLACE_REFUSALS)
def test_close_after_a_refused_stop_move_cancels_the_stop_the_venue_kept(
        new_stop: str, code: str, message: str) -> None:
    """Paper refuses a replacement and keeps the order it was to replace resting (Exchange.replace
    puts the old order back); 1769c18 relies on that (``TrackedOrder.replaces``: "the venue
    keeps that one working") but leaves the old stop marked not live. A later close cancels only
    what it believes live: the old stop for all 0.2 keeps resting after PositionClosed, and when
    the price reaches 49000 it sells 0.2 BTC the position no longer holds (another position's on
    the same account, or opens a short on an account allowed to short)."""
    p = _moved_and_refused(new_stop, code, message)
    pid = p.s.position_id

    assert request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0 + minutes(3))
    canceled = {c.order_id for c in _sent(p, CancelOrder)} | \
        {o.order_id for c in _sent(p, CancelOrder) if c.list_id for o in p.s.orders.values()
         if o.list_id == c.list_id}
    assert f"{pid}-0S" in canceled, (
        f"the stop the venue kept ({pid}-0S, 0.2 at 49000) is never cancelled by the close; "
        f"cancelled: {sorted(canceled)}")


@pytest.mark.parametrize(("new_stop", "code", "message"), REPLACE_REFUSALS)
def test_refused_stop_move_keeps_the_venues_resting_stop_live_at_its_price(
        new_stop: str, code: str, message: str) -> None:
    """Same refusal: the venue's stop rests at 49000; the position counts no stop live (every
    later re-protection or close ignores the resting one) and reports a stop at the new price
    that no order at the venue carries (views, risk, the trailing rule's next move)."""
    p = _moved_and_refused(new_stop, code, message)
    pid = p.s.position_id
    live_stops = [o.order_id for o in _live(p, OrderKind.STOP)]
    assert live_stops == [f"{pid}-0S"], f"the venue's resting stop {pid}-0S is not live: {live_stops}"
    assert p.s.stop_loss == D("49000"), f"stop_loss {p.s.stop_loss}: no order at the venue carries it"
