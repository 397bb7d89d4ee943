"""Figures the overview derives from the services' answers (pure; Decimal in, strings out)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from robson_dashboard.domain.live import HOLDING


def dec(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else default
    except InvalidOperation:
        return default


def equity_curve(start: Decimal, positions: list[dict[str, Any]],
                 limit: int = 2000) -> list[dict[str, str]]:
    """Starting capital moved by every realized close (partial closes included), in time order;
    the last ``limit`` points."""
    closes = sorted((c["at"], dec(c.get("realized_pnl"))) for p in positions for c in p.get("closes") or ())
    points, equity = [], start
    for at, pnl in closes:
        equity += pnl
        points.append({"at": at, "equity": format(equity, "f")})
    return points[-limit:]


def open_risk(positions: list[dict[str, Any]]) -> dict[str, str]:
    """What the open positions stand to lose from here if every stop fills (0 for a stop past
    breakeven), and their unrealized P&L at the position service's last mark."""
    at_risk, unrealized = Decimal(0), Decimal(0)
    for p in positions:
        if p.get("status") not in HOLDING:
            continue
        entry, stop, qty = dec(p.get("entry_price")), dec(p.get("stop_loss")), dec(p.get("remaining_quantity"))
        direction = 1 if p.get("side") == "LONG" else -1
        if entry and stop:
            at_risk += max((entry - stop) * qty * direction, Decimal(0))
        unrealized += dec(p.get("unrealized_pnl"))
    return {"at_risk": format(at_risk, "f"), "unrealized_pnl": format(unrealized, "f")}


def pnl_since_start(equity: Decimal, start_capital: Decimal) -> str:
    return format(equity - start_capital, "f")
