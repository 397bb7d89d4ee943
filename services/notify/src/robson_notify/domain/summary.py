"""The daily summary: which trading day an event belongs to, and its notice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from robson_contracts import derive_id

from robson_notify.domain.fmt import money, num
from robson_notify.domain.model import KINDS, Notice


def trading_day(at: datetime, reset: time) -> date:
    """The day an instant counts for: days run from one reset (UTC) to the next."""
    shift = timedelta(hours=reset.hour, minutes=reset.minute)
    return (at.astimezone(UTC) - shift).date()


def day_end(day: date, reset: time) -> datetime:
    return datetime.combine(day + timedelta(days=1), reset, tzinfo=UTC)


@dataclass(frozen=True)
class DayFigures:
    account_id: str
    day: date
    realized_pnl: Decimal
    closed: int
    wins: int
    opened: int
    open_positions: int
    open_risk: Decimal


def summary_notice(f: DayFigures, reset: time) -> Notice:
    win_rate = f"{f.wins * 100 // f.closed}% won" if f.closed else "no closes"
    text = (f"P&L {money(f.realized_pnl)} · {f.closed} closed ({win_rate}) · {f.opened} opened\n"
            f"open now: {f.open_positions} position(s), risk {money(f.open_risk)}")
    return Notice(
        event_id=derive_id("notify-daily-summary", f.account_id, f.day.isoformat()),
        kind="summary.daily", severity=KINDS["summary.daily"], account_id=f.account_id,
        title=f"[{f.account_id}] day {f.day.isoformat()}: {money(f.realized_pnl)}", text=text,
        occurred_at=day_end(f.day, reset),
        data={"day": f.day.isoformat(), "realized_pnl": num(f.realized_pnl), "closed": f.closed,
              "wins": f.wins, "opened": f.opened, "open_positions": f.open_positions,
              "open_risk": num(f.open_risk)})
