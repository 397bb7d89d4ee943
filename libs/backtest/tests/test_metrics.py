"""The report's figures on hand-made inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_backtest.engine import EquityPoint
from robson_backtest.metrics import drawdown, group_by, summary
from robson_contracts import ExitReason, PositionClosed, PositionSide

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def curve(*values: str, step: timedelta = timedelta(days=1)) -> list[EquityPoint]:
    return [EquityPoint(T0 + i * step, D(v), False) for i, v in enumerate(values)]


def trade(pnl: str, reason: ExitReason = ExitReason.TAKE_PROFIT, symbol: str = "BTCUSDT",
          days: int = 0) -> PositionClosed:
    return PositionClosed(
        occurred_at=T0 + timedelta(days=days, hours=1), account_id="a", position_id=f"p{pnl}{days}",
        trader_id="t", symbol=symbol, side=PositionSide.LONG, quantity="1", entry_price="100",
        exit_price="101", realized_pnl=pnl, fees="0.2", exit_reason=reason, opened_at=T0,
        holding_seconds=3600)


def test_max_drawdown_is_the_deepest_fall_from_a_peak_and_lasts_until_recovered() -> None:
    dd = drawdown(curve("100", "120", "90", "110", "120", "130", "125"))
    assert round(dd.max_pct, 6) == 25.0  # 120 → 90
    assert dd.peak_at == T0 + timedelta(days=1) and dd.trough_at == T0 + timedelta(days=2)
    assert dd.recovered_at == T0 + timedelta(days=4) and dd.duration == timedelta(days=3)


def test_drawdown_never_recovered_lasts_until_the_end() -> None:
    dd = drawdown(curve("100", "80", "90"))
    assert dd.recovered_at is None and dd.duration == timedelta(days=2)


def test_profit_factor_expectancy_and_win_rate() -> None:
    trades = [trade("30"), trade("-10", ExitReason.STOP_LOSS), trade("-5", ExitReason.STOP_LOSS)]
    s = summary(trades, curve("1000", "1015"), D(1000))
    assert s["profit_factor"] == 2.0 and s["expectancy"] == "5.0000"
    assert s["win_rate_pct"] == 33.33 and s["return_pct"] == 1.5 and s["fees"] == "0.6"


def test_breakdown_groups_by_key_with_wins_and_pnl() -> None:
    groups = group_by([trade("30"), trade("-10", ExitReason.STOP_LOSS), trade("4")],
                      lambda t: t.exit_reason.value)
    assert [(g.key, g.trades, g.wins, g.pnl) for g in groups] == [
        ("STOP_LOSS", 1, 0, D(-10)), ("TAKE_PROFIT", 2, 2, D(34))]
