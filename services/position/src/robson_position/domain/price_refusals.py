"""A venue refusing a protective order position sent, for its PRICE: already through the market.

Binance refuses a stop that would trigger at once (-2010 "Stop price would trigger
immediately.") and an OCO whose prices are not on either side of the last price (-2010 "The
relationship of the prices for the orders is not correct."); execution reports both as
``BINANCE_2010`` with Binance's message. paper refuses the same as ``STOP_WOULD_TRIGGER`` and
``PRICE_RELATIONSHIP``. Such a refusal comes when protection matters most (the price moved
past a level between the decision and the order), so it is answered at once, never left to
the stop watchdog:

- a stop through the market (a lone stop, an OCO's stop leg, or a stop moved or trailed to a
  price the market is already past): every stop of the position is, so everything held is
  closed at market as a stop-out (``STOP_LOSS``, ``TRAILING_STOP`` once trailed);
- a take-profit through the market (the market beyond its target, a better price): its share
  is sold at market (``TAKE_PROFIT``), the rest placed again under its stop.

An OCO's refusal does not say which leg is through: the latest tick position has seen (else its
last stored price) decides; when it is on neither side (stale), the stop is taken as through:
being out is safe.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    ExitReason,
    OrderRejected,
    PositionStatus,
)

from robson_position.domain import pnl
from robson_position.domain.management import close_unsold, protect_held, sell_share
from robson_position.domain.orders import exiting, protective_layout
from robson_position.domain.position import Position
from robson_position.domain.refusals import report, unplaced_peers
from robson_position.domain.state import OrderKind, TrackedOrder

PRICE_REFUSALS = frozenset({"STOP_WOULD_TRIGGER", "PRICE_RELATIONSHIP"})  # paper
_BINANCE_REJECTED = "BINANCE_2010"
"""Binance's NEW_ORDER_REJECTED: a price refusal when its message is one of these."""
_BINANCE_STOP_TRIGGERS = "stop price would trigger immediately"
_BINANCE_OCO_PRICES = "relationship of the prices for the orders is not correct"


def refused_for_price(event: OrderRejected) -> bool:
    if event.reason_code in PRICE_REFUSALS:
        return True
    message = event.message.lower()
    return event.reason_code == _BINANCE_REJECTED and (
        _BINANCE_STOP_TRIGGERS in message or _BINANCE_OCO_PRICES in message)


def _refused_as_triggering(event: OrderRejected) -> bool:
    """A stop refused on its own: it is the stop that is through."""
    return event.reason_code == "STOP_WOULD_TRIGGER" or (
        event.reason_code == _BINANCE_REJECTED and _BINANCE_STOP_TRIGGERS in event.message.lower())


def through_market_refused(position: Position, tracked: TrackedOrder, event: OrderRejected,
                           at: datetime) -> bool:
    """``tracked``, a stop or take-profit (or its replacement) counted live until this refusal,
    was refused as already through the market: answered (True). False: not that case."""
    s = position.s
    # An order the venue accepted once and refuses now was placed again under its id: execution
    # resizes a bracket child for a later entry fill so; refused, it no longer protects.
    if tracked.kind not in (OrderKind.STOP, OrderKind.TP) or not refused_for_price(event) \
            or s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return False
    for peer in unplaced_peers(s, tracked):
        peer.live = False  # the venue placed neither leg of a refused OCO
    if _passed_leg(position, tracked, event) is OrderKind.TP:
        _take_profit_through(position, tracked, event, at)
    else:
        _stop_through(position, tracked, event, at)
    return True


def _passed_leg(position: Position, tracked: TrackedOrder, event: OrderRejected) -> OrderKind:
    """Which leg the market is past: the stop, unless only the take-profit is (at the latest
    tick seen, else the last stored price)."""
    s = position.s
    if tracked.tp_index is None or _refused_as_triggering(event):
        return OrderKind.STOP
    moved = tracked.price if tracked.replaces is not None else None
    stop = moved if moved is not None and tracked.kind is OrderKind.STOP else s.stop_loss
    target = moved if moved is not None and tracked.kind is OrderKind.TP \
        else s.take_profits[tracked.tp_index].price
    last = position.market_price or s.last_price or s.entry_price
    if last is None or stop is None:
        return OrderKind.STOP
    sign = pnl.direction(s.side)
    stop_passed = sign * (last - stop) <= 0
    target_passed = sign * (last - target) >= 0
    return OrderKind.TP if target_passed and not stop_passed else OrderKind.STOP


def _stop_through(position: Position, tracked: TrackedOrder, event: OrderRejected,
                  at: datetime) -> None:
    s = position.s
    price = tracked.price if tracked.replaces is not None else s.stop_loss
    what = f"stop {price} for {s.remaining}"
    if s.stop_through_for == s.remaining:
        # refused so before for this very holding, and its close came back unfilled: no second
        # round trip (stop, refusal, close, refusal, ... for ever); the watchdog judges it
        report(position, event, at, "STOP_THROUGH_MARKET", f"{what} refused again as through the market "
                                     f"({event.reason_code}): left to the stop watchdog")
        return
    s.stop_through_for = s.remaining
    sent = close_unsold(position, s.stop_exit_reason, event, at)
    s.exit_note = (f"{what} refused as already through the market ({event.reason_code}: "
                   f"{event.message}): {sent} closed at market")
    report(position, event, at, "STOP_THROUGH_MARKET", s.exit_note)


def _take_profit_through(position: Position, tracked: TrackedOrder, event: OrderRejected,
                         at: datetime) -> None:
    s = position.s
    assert tracked.tp_index is not None
    level = s.take_profits[tracked.tp_index]
    held = s.remaining - exiting(s)
    share = _share_of(position, tracked, held)
    level.canceled = True  # taken now, at market: never placed again
    sent = sell_share(position, share, ExitReason.TAKE_PROFIT, event, at)
    if not sent:  # nothing to sell: what is held stays under the stop
        protect_held(position, event, at)
    report(position, event, at, "TAKE_PROFIT_THROUGH_MARKET",
           f"take-profit {level.price} refused as already through the market ({event.reason_code}: "
           f"{event.message}): {sent} sold at market, stop {s.stop_loss} kept for the rest")


def _share_of(position: Position, tracked: TrackedOrder, held: Decimal) -> Decimal:
    """What the refused OCO was for: its quantity once known (a bracket's children are
    registered before the venue sizes them), else its level's share of what is held."""
    if tracked.quantity > 0:
        return tracked.quantity
    layout = protective_layout(position.s, held, position.rules)
    return next((o.quantity for o in layout if o.kind is OrderKind.TP and o.tp_index == tracked.tp_index),
                Decimal(0))
