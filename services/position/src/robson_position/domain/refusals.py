"""A venue refusing an order position sent, for its quantity.

Without its venue's rules for the symbol (``SymbolRules``, not told yet; or rules that were
wrong or changed meanwhile), position cannot size by the LOT_SIZE step, minimum quantity or
minimum notional (``lots.py``), so a split of what is held into take-profit shares can give
quantities a venue refuses. A refusal is answered, never left standing:

- a take-profit split refused in any part: the live take-profit levels are dropped and
  everything held goes under one stop (the venue filled the entry and the exits, so what is
  held is on its step unless a base-asset fee took a fraction of one);
- a stop for everything held refused: what is held is closed at market (``RISK_LIMIT``);
- that close refused for its quantity too: what is held is below what the venue trades, and
  offering it again would be refused again, for ever; the books close on it
  (``Position.write_off``).

A refused replacement (a stop or take-profit moved) is not a refused protection: paper keeps
the order it was to replace; execution has cancelled it, and ``replace_refusals.py`` places
protection again (a refusal of that is then answered here).
"""

from __future__ import annotations

from datetime import datetime

from robson_contracts import ExitReason, OrderRejected, PositionError, PositionStatus

from robson_position.domain.management import cancel_protection, close_unsold, protect_held
from robson_position.domain.orders import generation_of, live_orders
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind, PositionState, TrackedOrder

QUANTITY_REFUSALS = frozenset({
    "MIN_NOTIONAL",  # paper
    "QUANTITY_BELOW_MIN", "NOTIONAL_BELOW_MIN",  # execution
    "BINANCE_1111",  # Binance through execution: quantity precision over the asset's maximum
})
_BINANCE_FILTER = "BINANCE_1013"
"""Binance's "Filter failure: <FILTER>": a quantity refusal when the filter is one of quantity."""


def refused_for_quantity(event: OrderRejected) -> bool:
    if event.reason_code in QUANTITY_REFUSALS:
        return True
    if event.reason_code == "LOT_SIZE":
        return "above the maximum" not in event.message
    return event.reason_code == _BINANCE_FILTER and any(
        name in event.message for name in ("LOT_SIZE", "NOTIONAL"))


def protection_refused(position: Position, tracked: TrackedOrder, event: OrderRejected,
                       at: datetime) -> None:
    """``tracked``, a stop or take-profit position placed and counted live until this refusal
    (already marked not live), was refused for its quantity."""
    s = position.s
    if tracked.kind not in (OrderKind.STOP, OrderKind.TP) or tracked.accepted \
            or tracked.replaces is not None or not refused_for_quantity(event) \
            or s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return
    for peer in unplaced_peers(s, tracked):
        peer.live = False  # the venue placed neither leg of a refused OCO
    if tracked.kind is OrderKind.STOP and tracked.tp_index is None and not _protected(s):
        _stop_refused(position, event, at)
    else:
        _split_refused(position, tracked, event, at)


def write_off_refused_exit(position: Position, tracked: TrackedOrder, event: OrderRejected,
                           at: datetime) -> bool:
    """A market exit refused for its quantity, for the very holding whose stop was refused for
    its quantity: written off (True; the caller reports the close). False: not that case."""
    s = position.s
    if not s.holds or not refused_for_quantity(event) or s.stop_refused_for != s.remaining \
            or tracked.quantity < s.remaining or live_orders(s, OrderKind.EXIT) \
            or _venue_takes(position):
        return False
    quantity = s.remaining
    cancel_protection(position, event, at)
    close = position.write_off(s.pending_exit_reason or ExitReason.RISK_LIMIT, at)
    s.exit_note = (f"{quantity} refused as a stop and as a market close ({event.reason_code}): "
                   f"below what the venue trades, written off at {close.price}")
    report(position, event, at, "REMAINDER_WRITTEN_OFF", s.exit_note)
    return True


def _split_refused(position: Position, tracked: TrackedOrder, event: OrderRejected,
                   at: datetime) -> None:
    s = position.s
    dropped = [str(tp.price) for tp in s.take_profits if tp.live]
    for tp in s.take_profits:
        tp.canceled = tp.canceled or tp.live
    held = protect_held(position, event, at)
    report(position, event, at, "PROTECTION_REFUSED",
            f"{tracked.order_id} refused for its quantity ({event.reason_code}): take-profits "
            f"{', '.join(dropped) or 'none'} dropped, stop {s.stop_loss} placed for all {held} held")


def _stop_refused(position: Position, event: OrderRejected, at: datetime) -> None:
    s = position.s
    if s.stop_refused_for == s.remaining:
        # refused before for this very holding, and its close came back unfilled for another
        # reason: no second round trip; the watchdog judges it (re-protect, then close)
        report(position, event, at, "STOP_REFUSED",
                f"stop for {s.remaining} refused again ({event.reason_code})")
        return
    s.stop_refused_for = s.remaining
    sent = close_unsold(position, ExitReason.RISK_LIMIT, event, at)
    s.exit_note = (f"stop {s.stop_loss} for {s.remaining} refused for its quantity "
                   f"({event.reason_code}): {sent} closed at market")
    report(position, event, at, "STOP_REFUSED", s.exit_note)


def _venue_takes(position: Position) -> bool:
    """By its told rules the venue trades what is held (on its step, above its minimums at the
    last price): its refusal was not for a holding too small (Binance's -1013 LOT_SIZE,
    MARKET_LOT_SIZE or NOTIONAL also refuses one too large), and coins the venue still holds
    are never written off; the stop watchdog keeps judging the position instead."""
    rules, s = position.rules, position.s
    if rules is None:
        return False
    price = position.market_price or s.last_price or s.entry_price
    return rules.tradable(rules.floor(s.remaining), price)


def _protected(s: PositionState) -> bool:
    return any(o.kind in (OrderKind.STOP, OrderKind.TP) for o in live_orders(s))


def unplaced_peers(s: PositionState, tracked: TrackedOrder) -> list[TrackedOrder]:
    """The other leg of ``tracked``'s OCO (same take-profit, same generation), if the venue
    never confirmed it."""
    if tracked.tp_index is None:
        return []
    gen = generation_of(tracked.order_id)
    return [o for o in live_orders(s) if o is not tracked and not o.accepted
            and o.tp_index == tracked.tp_index and o.kind is not tracked.kind
            and generation_of(o.order_id) == gen]


def report(position: Position, event: OrderRejected, at: datetime, code: str, message: str) -> None:
    position.emit(PositionError(**position.base(event, "error", at),
                                position_id=position.s.position_id, reason_code=code,
                                message=message))
