"""Performance of closed trades: win rate, profit factor, expectancy, R, drawdown, Sharpe/Sortino."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Trade:
    realized_pnl: Decimal
    r_multiple: Decimal | None
    opened_at: datetime
    closed_at: datetime


@dataclass(frozen=True)
class Performance:
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: Decimal | None
    expectancy: Decimal | None
    average_r: Decimal | None
    total_pnl: Decimal
    max_drawdown: Decimal
    sharpe: float | None
    sortino: float | None
    best_trade: Decimal | None
    worst_trade: Decimal | None
    average_holding_seconds: float | None


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def max_drawdown(pnls: list[Decimal], start_equity: Decimal = ZERO) -> Decimal:
    """Largest fall of cumulative equity from its running peak (≥ 0)."""
    equity = peak = start_equity
    worst = ZERO
    for p in pnls:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def daily_returns(trades: list[Trade], start_equity: Decimal) -> list[float]:
    """Daily returns of equity built from realized P&L by closing day (days without a close
    count as 0 between the first and the last)."""
    if not trades or start_equity <= 0:
        return []
    by_day: dict[date, Decimal] = {}
    for t in trades:
        by_day[t.closed_at.date()] = by_day.get(t.closed_at.date(), ZERO) + t.realized_pnl
    first, last = min(by_day), max(by_day)
    equity = start_equity
    out: list[float] = []
    for n in range((last - first).days + 1):
        day = date.fromordinal(first.toordinal() + n)
        pnl = by_day.get(day, ZERO)
        out.append(float(pnl / equity) if equity > 0 else 0.0)
        equity += pnl
    return out


def sharpe(returns: list[float], periods: int = 365) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return mean / math.sqrt(var) * math.sqrt(periods) if var > 0 else None


def sortino(returns: list[float], periods: int = 365) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    return mean / downside * math.sqrt(periods) if downside > 0 else None


def performance(trades: list[Trade], start_equity: Decimal = Decimal(10000)) -> Performance:
    ordered = sorted(trades, key=lambda t: t.closed_at)
    pnls = [t.realized_pnl for t in ordered]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p <= 0]
    gross_loss = -sum(losses, ZERO)
    rs = [t.r_multiple for t in ordered if t.r_multiple is not None]
    returns = daily_returns(ordered, start_equity)
    holding = [(t.closed_at - t.opened_at).total_seconds() for t in ordered]
    return Performance(
        trades=len(pnls), wins=len(wins), losses=len(losses),
        win_rate=Decimal(len(wins)) / len(pnls) if pnls else None,
        average_win=_mean(wins), average_loss=_mean(losses),
        profit_factor=sum(wins, ZERO) / gross_loss if gross_loss > 0 else None,
        expectancy=_mean(pnls), average_r=_mean(rs), total_pnl=sum(pnls, ZERO),
        max_drawdown=max_drawdown(pnls), sharpe=sharpe(returns), sortino=sortino(returns),
        best_trade=max(pnls) if pnls else None, worst_trade=min(pnls) if pnls else None,
        average_holding_seconds=sum(holding) / len(holding) if holding else None,
    )
