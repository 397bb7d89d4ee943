"""A venue refusing the replacement of a stop or take-profit position moved (``ReplaceOrder``:
breakeven, trailing, an operator's modification).

The two venues answer differently:

- paper refuses the replacement and keeps the order it was to replace resting
  (``lifecycle._rejected`` marks that one live again);
- execution (Binance) cancels the old order (its whole OCO: a stop leg's take-profit goes with
  it) first, and places the amended one only once the cancel is confirmed. When Binance (or
  execution's own check of the exchange's filters) refuses the amended order, the old one is
  already gone: what is held has no stop at the venue.

That refusal is answered at once (before the stop watchdog would notice): protection is placed
again for everything held at the levels the position had before the move (the old stop price;
a moved take-profit back at its old price), reported as ``STOP_MOVE_REFUSED`` /
``TAKE_PROFIT_MOVE_REFUSED``. The orders placed again are plain placements, not replacements:
refused in turn, they are answered as any refused protection (``refusals.py`` for their
quantity, ``price_refusals.py`` for their price) or left to the watchdog, never placed a third
time from here.

Not answered here:
- a refusal for the price already through the market: ``price_refusals.py`` answers it (the
  move meant "out", so out at market) before this;
- ``REPLACE_TARGET_NOT_OPEN``: execution found the old order not open (it filled, or was
  filling: its cancel answered "unknown order"), and publishes that order's fills before the
  refusal. The position is exiting through that fill; protection placed now would sell again
  what the fill sold. A stop gone another way is the watchdog's to find.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from robson_contracts import OrderRejected, PositionStatus, TradingMode

from robson_position.domain.management import protect_held
from robson_position.domain.position import Position
from robson_position.domain.refusals import report
from robson_position.domain.state import OrderKind, PositionState, TrackedOrder

TARGET_NOT_OPEN = "REPLACE_TARGET_NOT_OPEN"
"""execution's refusal of a replacement whose old order was no longer open (filled)."""
MOVE_REFUSED = {OrderKind.STOP: "STOP_MOVE_REFUSED", OrderKind.TP: "TAKE_PROFIT_MOVE_REFUSED"}


def undo_move(s: PositionState, tracked: TrackedOrder, previous: Decimal | None) -> None:
    """The position's levels and stop settings as they were before the refused move
    ``tracked`` (``previous``: the price of the order it was to replace)."""
    if previous is not None:
        if tracked.kind is OrderKind.STOP:
            s.stop_loss = previous
        elif tracked.tp_index is not None and tracked.tp_index < len(s.take_profits):
            s.take_profits[tracked.tp_index].price = previous
    before = tracked.settings_before
    if tracked.kind is OrderKind.STOP and before is not None:
        s.manual_stop, s.trail_percent, s.last_trailed_at = \
            before.manual, before.trail_percent, before.trailed_at


def replacement_refused(position: Position, tracked: TrackedOrder, event: OrderRejected,
                        at: datetime) -> bool:
    """``tracked``, the replacement of a stop or take-profit, counted live until this refusal
    (already marked not live), was refused by a venue that had cancelled the order it
    replaced: protection placed again (True). False: not that case."""
    s = position.s
    if tracked.replaces is None or tracked.kind not in MOVE_REFUSED \
            or s.venue is not TradingMode.LIVE or event.reason_code == TARGET_NOT_OPEN \
            or s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return False
    old = s.orders.get(tracked.replaces)
    undo_move(s, tracked, old.price if old is not None else None)
    held = protect_held(position, event, at)
    what = "stop" if tracked.kind is OrderKind.STOP else "take-profit"
    live_tps = ", ".join(str(tp.price) for tp in s.take_profits if tp.live) or "none"
    report(position, event, at, MOVE_REFUSED[tracked.kind],
           f"{what} move to {tracked.price} refused ({event.reason_code}: {event.message}) after the "
           f"venue had cancelled {tracked.replaces}: stop {s.stop_loss} (take-profits {live_tps}) "
           f"placed again for all {held} held")
    return True
