"""The figures of a run: return, trade statistics, risk-adjusted returns, drawdown, exposure,
and breakdowns per symbol, exit reason and month (as Freqtrade users know them)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from robson_contracts import PositionClosed

from robson_backtest.engine import EquityPoint

ZERO = Decimal(0)
DAYS_PER_YEAR = 365  # crypto trades every day


@dataclass(frozen=True)
class Group:
    key: str
    trades: int
    wins: int
    pnl: Decimal
    fees: Decimal

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "trades": self.trades, "wins": self.wins,
                "win_rate_pct": round(self.win_rate * 100, 2), "realized_pnl": str(self.pnl),
                "avg_pnl": str((self.pnl / self.trades).quantize(Decimal("0.0001")))
                if self.trades else "0", "fees": str(self.fees)}


@dataclass(frozen=True)
class Drawdown:
    max_pct: float
    peak_at: datetime | None
    trough_at: datetime | None
    recovered_at: datetime | None
    duration: timedelta

    def as_json(self) -> dict[str, object]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"max_pct": round(self.max_pct, 4), "peak_at": iso(self.peak_at),
                "trough_at": iso(self.trough_at), "recovered_at": iso(self.recovered_at),
                "duration_seconds": int(self.duration.total_seconds()),
                "duration": str(self.duration)}


def group_by(trades: Iterable[PositionClosed], key: Callable[[PositionClosed], str]) -> list[Group]:
    groups: dict[str, list[PositionClosed]] = {}
    for t in trades:
        groups.setdefault(key(t), []).append(t)
    return [Group(k, len(ts), sum(1 for t in ts if t.realized_pnl > 0),
                  sum((t.realized_pnl for t in ts), ZERO), sum((t.fees for t in ts), ZERO))
            for k, ts in sorted(groups.items())]


def drawdown(curve: list[EquityPoint]) -> Drawdown:
    """The deepest fall from a running peak, and how long from that peak until equity was back
    at it (until the end when it never was)."""
    if not curve:
        return Drawdown(0.0, None, None, None, timedelta(0))
    peak, peak_at = curve[0].equity, curve[0].at
    worst, worst_peak_at, trough_at = 0.0, None, None
    for p in curve:
        if p.equity > peak:
            peak, peak_at = p.equity, p.at
        dd = float((peak - p.equity) / peak) if peak > 0 else 0.0
        if dd > worst:
            worst, worst_peak_at, trough_at = dd, peak_at, p.at
    if worst_peak_at is None or trough_at is None:
        return Drawdown(0.0, None, None, None, timedelta(0))
    level = next(p.equity for p in curve if p.at == worst_peak_at)
    recovered = next((p.at for p in curve if p.at > trough_at and p.equity >= level), None)
    duration = (recovered or curve[-1].at) - worst_peak_at
    return Drawdown(worst * 100, worst_peak_at, trough_at, recovered, duration)


def daily_returns(curve: list[EquityPoint]) -> list[float]:
    """Returns between the last equity of each UTC day."""
    closes: dict[object, Decimal] = {}
    for p in curve:
        closes[p.at.date()] = p.equity
    values = [float(v) for v in closes.values()]
    return [b / a - 1 for a, b in pairwise(values) if a > 0]


def sharpe(returns: list[float]) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    return mean / sd * math.sqrt(DAYS_PER_YEAR) if sd > 0 else None


def sortino(returns: list[float]) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    return mean / downside * math.sqrt(DAYS_PER_YEAR) if downside > 0 else None


def summary(trades: list[PositionClosed], curve: list[EquityPoint], starting: Decimal,
            ) -> dict[str, object]:
    final = curve[-1].equity if curve else starting
    wins = [t.realized_pnl for t in trades if t.realized_pnl > 0]
    losses = [t.realized_pnl for t in trades if t.realized_pnl <= 0]
    gross_win, gross_loss = sum(wins, ZERO), -sum(losses, ZERO)
    pnl = sum((t.realized_pnl for t in trades), ZERO)
    returns = daily_returns(curve)
    dd = drawdown(curve)

    def ratio(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        "starting_equity": str(starting),
        "final_equity": str(final.quantize(Decimal("0.01"))),
        "return_pct": round(float((final - starting) / starting * 100), 4) if starting else 0.0,
        "trades": len(trades),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate_pct": round(len(wins) / len(trades) * 100, 2) if trades else 0.0,
        "realized_pnl": str(pnl),
        "profit_factor": round(float(gross_win / gross_loss), 4) if gross_loss > 0 else None,
        "expectancy": str((pnl / len(trades)).quantize(Decimal("0.0001"))) if trades else "0",
        "sharpe": ratio(sharpe(returns)),
        "sortino": ratio(sortino(returns)),
        "max_drawdown": dd.as_json(),
        "exposure_pct": round(sum(1 for p in curve if p.exposed) / len(curve) * 100, 2)
        if curve else 0.0,
        "fees": str(sum((t.fees for t in trades), ZERO)),
    }


def breakdowns(trades: list[PositionClosed]) -> dict[str, list[dict[str, object]]]:
    return {
        "per_symbol": [g.as_json() for g in group_by(trades, lambda t: t.symbol)],
        "per_exit_reason": [g.as_json() for g in group_by(trades, lambda t: t.exit_reason.value)],
        "per_month": [g.as_json() for g in group_by(trades, lambda t: t.occurred_at.strftime("%Y-%m"))],
    }
