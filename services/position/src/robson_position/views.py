"""Read models: a position as the API and the SSE stream show it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_position.domain import pnl
from robson_position.domain.markbook import MarkBook
from robson_position.domain.position import Position


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def position_view(position: Position, book: MarkBook, now: datetime) -> dict[str, Any]:
    s = position.s
    mark = book.get(s.symbol, s.position_id)
    price = mark.last if mark else (book.prices.get(s.symbol) or s.last_price)
    if mark:  # the book may have seen ticks newer than the stored state
        if s.best_price is None or pnl.pct_move(s.side, s.best_price, mark.best) > 0:
            s.best_price = mark.best
        if s.worst_price is None or pnl.pct_move(s.side, s.worst_price, mark.worst) < 0:
            s.worst_price = mark.worst
    unrealized = position.unrealized_at(price) if price is not None else Decimal(0)
    mfe, mae = position.excursions()
    entry = s.entry_price
    return {
        "position_id": s.position_id, "account_id": s.account_id, "trader_id": s.trader_id,
        "symbol": s.symbol, "side": s.side.value, "status": s.status.value, "version": s.version,
        "venue": s.venue.value, "quantity": _s(s.entry_quantity), "remaining_quantity": _s(s.remaining),
        "written_off": _s(s.written_off),
        "entry_price": _s(entry), "exit_price": _s(s.exit_price), "last_price": _s(price),
        "stop_loss": _s(s.stop_loss), "initial_stop": _s(s.initial_stop), "manual_stop": s.manual_stop,
        "trail_percent": _s(s.trail_percent),
        "last_trailed_at": s.last_trailed_at.isoformat() if s.last_trailed_at else None,
        "last_candle_at": s.last_candle_at.isoformat() if s.last_candle_at else None,
        "take_profits": [{"price": _s(t.price), "fraction": _s(t.fraction), "filled": t.filled,
                          "canceled": t.canceled} for t in s.take_profits],
        "fees": _s(s.entry_fees + s.exit_fees), "realized_pnl": _s(s.realized_pnl),
        "unrealized_pnl": _s(unrealized),
        "unrealized_pct": _s(pnl.pct_move(s.side, entry, price).quantize(Decimal("0.0001"))
                             if entry and price else None),
        "mfe": _s(mfe), "mae": _s(mae), "max_drawdown": _s(s.max_drawdown),
        "initial_risk": _s(position.initial_risk), "r_multiple": _s(position.r_multiple),
        "holding_seconds": position.holding_seconds(now),
        "created_at": s.created_at.isoformat(),
        "opened_at": s.opened_at.isoformat() if s.opened_at else None,
        "closed_at": s.closed_at.isoformat() if s.closed_at else None,
        "exit_reason": s.exit_reason.value if s.exit_reason else None,
        "closes": [{"quantity": _s(c.quantity), "price": _s(c.price), "fees": _s(c.fees + c.entry_fees),
                    "realized_pnl": _s(c.realized_pnl), "reason": c.reason.value, "at": c.at.isoformat()}
                   for c in s.closes],
        "orders": [{"order_id": o.order_id, "kind": o.kind.value, "quantity": _s(o.quantity),
                    "price": _s(o.price), "live": o.live, "accepted": o.accepted}
                   for o in s.orders.values()],
        "decision_id": s.decision_id, "gate_decision_id": s.gate_decision_id,
        "entry_reasoning": s.entry_reasoning,
    }
