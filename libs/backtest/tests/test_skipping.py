"""The backtest leaves out the bars and ticks that can change nothing (``activity.py``); the
result must be exactly the one of sending everything, whatever the rules in play."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from robson_backtest.activity import Activity
from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.spec import BacktestSpec, TraderSpec
from robson_decision.domain.settings import StopMode
from robson_position.domain.policy import ManagementPolicy

from .helpers import DECISION, candles, policy, spec, trader

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
WATCH_OFF = {"daily_loss": {"enabled": False}, "drawdown": {"enabled": False}}


def _managed(t: TraderSpec, **decision: object) -> TraderSpec:
    return replace(t, decision=DECISION.model_copy(update=decision))


def _percent_stops_watch_off() -> BacktestSpec:
    return spec((trader("fast", ("BTCUSDT", "ETHUSDT")), trader("slow", ("BTCUSDT",), fast=8, slow=21)),
                policy(**WATCH_OFF))


def _atr_stops_atr_trailing_watch_on() -> BacktestSpec:
    atr = _managed(trader("atr", ("BTCUSDT", "ETHUSDT")), stop_mode=StopMode.ATR,
                   atr_k=Decimal(2), tp_pcts=None, tp_r_multiples=(Decimal(2),),
                   breakeven_at_r=Decimal(1), trail_at_r=Decimal("1.5"))
    atr = replace(atr, management=ManagementPolicy(trailing_atr_multiple=Decimal(2)))
    return spec((atr,), policy(drawdown={"enabled": True, "limit": "0.03"}))


def _swing_stops_time_exit_daily_loss() -> BacktestSpec:
    swing = _managed(trader("swing", ("ETHUSDT",), fast=3, slow=8), stop_mode=StopMode.SWING,
                     swing_lookback=20, max_holding_candles=12)
    return spec((swing, trader("plain", ("BTCUSDT",))),
                policy(daily_loss={"enabled": True, "limit": "0.01"}, drawdown={"enabled": False}))


def _facts(result: RunResult) -> dict[str, object]:
    return {
        "trades": [t.model_dump() for t in result.trades],
        "fills": [f.model_dump() for f in result.fills],
        "equity": [(p.at, p.equity, p.exposed) for p in result.equity],
        "open": result.open_positions,
        "dead_letters": result.dead_letters,
        "candles": result.candles,
    }


@pytest.mark.parametrize("make", [_percent_stops_watch_off, _atr_stops_atr_trailing_watch_on,
                                  _swing_stops_time_exit_daily_loss])
def test_skipping_idle_bars_and_quiet_ticks_changes_no_trade_fill_or_equity_point(make) -> None:  # type: ignore[no-untyped-def]
    s, bars = make(), candles(SYMBOLS, 1200, seed=11)
    skipped = asyncio.run(run_backtest(s, bars))
    everything = asyncio.run(run_backtest(s, bars, skip_idle=False))
    assert len(everything.trades) >= 5
    assert skipped.messages < everything.messages * 0.8  # it did leave a good part out
    assert _facts(skipped) == _facts(everything)


def test_decision_takes_every_candle_only_where_a_trader_may_review_on_it() -> None:
    """Percent stops with no time exit, trail or breakeven: decision's candles wait for a
    signal (the first case above then compares that delivery with sending everything)."""
    cases = ((_percent_stops_watch_off, False), (_atr_stops_atr_trailing_watch_on, True),
             (_swing_stops_time_exit_daily_loss, True))
    for make, reviews in cases:
        platform = SimpleNamespace(spec=make())
        assert Activity(platform, skipping=True).decision_reviews is reviews  # type: ignore[arg-type]
        assert Activity(platform, skipping=False).decision_reviews  # type: ignore[arg-type]
