"""The backtest leaves out the bars and ticks that can change nothing (``activity.py``); the
result must be exactly the one of sending everything, whatever the rules in play."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from robson_backtest import engine
from robson_backtest.activity import Activity
from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.spec import BacktestSpec, TraderSpec
from robson_contracts import ExitReason, Timeframe
from robson_decision.domain.settings import StopMode
from robson_position.domain.policy import ManagementPolicy
from robson_signal.domain.bars import Bar
from robson_signal.domain.events import path_ticks

from .helpers import DECISION, START, candles, policy, spec, trader

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


# --- a long held under entry_gate's watch: ticks go out only where the watch could act ------

D = Decimal
T0 = int(START.timestamp() * 1000)
FIVE_MIN = 300_000
FLAT = ("100", "100.1", "99.9", "100")
WIDE_STOPS = DECISION.model_copy(update={"stop_pct": D(10), "tp_pcts": (D(20),),
                                         "exit_on_opposite_strength": None})
"""Stop at 84.60, take-profit at 112.80: paper has nothing in reach of any bar below; no exit
on the opposite cross."""


def _long_then(bars_after: list[tuple[str, str, str, str]]) -> list[Bar]:
    """BTCUSDT falling 100 → 90, rising back to 100 (the EMA cross signals at 02:50 and buys
    10.64 at 94, 02:55), flat at 100 until 05:50, then ``bars_after`` (open, high, low, close)
    from 05:55 on."""
    closes = [D(100) - D(i) / 3 for i in range(30)] + [D(90 + i) for i in range(11)]
    closes += [D(100)] * 30
    out, prev = [], closes[0]
    for i, close in enumerate(closes):
        out.append(Bar("BTCUSDT", Timeframe.M5, T0 + i * FIVE_MIN, prev, max(prev, close) + D("0.1"),
                       min(prev, close) - D("0.1"), close, D(1)))
        prev = close
    for j, ohlc in enumerate(bars_after, start=len(out)):
        out.append(Bar("BTCUSDT", Timeframe.M5, T0 + j * FIVE_MIN, *(D(x) for x in ohlc), D(1)))
    assert not [(bar.open_time, bar.problem()) for bar in out if bar.problem()]
    return out


def _watched_long(**account_policy: object) -> BacktestSpec:
    return spec((replace(trader("t", ("BTCUSDT",)), decision=WIDE_STOPS),), policy(**account_policy))


def _both(s: BacktestSpec, bars: list[Bar],
          monkeypatch: pytest.MonkeyPatch) -> tuple[RunResult, RunResult, list[str]]:
    """The run leaving ticks out, the run sending everything, and the bars (open time) whose
    ticks the first sent."""
    made: list[str] = []

    def counted(bar, source, candle_id=None):  # type: ignore[no-untyped-def]
        made.append(bar.open_time.strftime("%H:%M"))
        return path_ticks(bar, source, candle_id)

    monkeypatch.setattr(engine, "path_ticks", counted)
    skipped = asyncio.run(run_backtest(s, bars))
    sent = list(made)
    everything = asyncio.run(run_backtest(s, bars, skip_idle=False))
    return skipped, everything, sent


def test_long_whose_bar_dips_through_the_drawdown_limit_trips_the_kill_switch_as_every_tick_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Long 10.64 from 94: the 06:00 bar's wick to 86 is a 0.96% drawdown (limit 0.5%), and it
    closes back at 100. Only its path ticks show the dip; its candle alone would trip nothing."""
    s = _watched_long(drawdown={"enabled": True, "limit": "0.005"})
    bars = _long_then([FLAT, ("100", "100.1", "86", "100")] + [FLAT] * 19)
    skipped, everything, sent = _both(s, bars, monkeypatch)
    assert _facts(skipped) == _facts(everything)
    assert [t.exit_reason for t in everything.trades] == [ExitReason.KILL_SWITCH]
    # the signal's step, the entry's (a market order waits for the next price), the dip's and
    # the exit's (the kill switch's market order): no other step of the held position
    assert sent == ["02:50", "02:55", "06:00", "06:05"]


def test_long_whose_bars_cannot_reach_a_limit_leaves_their_ticks_out_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same long under the same watch dips to 99 only: no step after the entry's sends
    ticks (before, every step of a symbol held under a watch did)."""
    s = _watched_long(drawdown={"enabled": True, "limit": "0.005"})
    bars = _long_then([FLAT, ("100", "100.1", "99", "100")] + [FLAT] * 19)
    skipped, everything, sent = _both(s, bars, monkeypatch)
    assert _facts(skipped) == _facts(everything)
    assert everything.open_positions == 1 and not everything.trades
    assert sent == ["02:50", "02:55"]


def test_holders_day_rolled_at_a_candles_close_starts_at_the_price_its_ticks_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Daily reset 06:50: the long rises to 110 (fast EMA well above the slow: no cross ahead),
    then the 06:45 bar falls to 105 and closes at the reset. After its ticks the day starts at
    105 (nothing lost today); had its candle come alone, the day would start at 110 and the
    close be a 0.52% loss on the new day (limit 0.5%): a flattening the services never do."""
    s = _watched_long(daily_loss={"enabled": True, "limit": "0.005"}, drawdown={"enabled": False},
                      daily_reset={"time": "06:50", "timezone": "UTC"})
    rise = [(str(c - 1), str(c) + ".1", str(c - 2) + ".9", str(c)) for c in range(101, 111)]
    bars = _long_then(rise + [("110", "110.1", "104.9", "105")] + [("105", "105.1", "104.9", "105")] * 6)
    skipped, everything, sent = _both(s, bars, monkeypatch)
    assert _facts(skipped) == _facts(everything)
    assert everything.open_positions == 1 and not everything.trades
    assert sent == ["02:50", "02:55", "06:45"]  # the one closing at the reset
