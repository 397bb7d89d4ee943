"""Quiet bars of a held symbol are held back from paper and entry_gate and handed over together
(``deferral.py``): every service must end where sending each bar would have left it."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest
from robson_backtest import engine
from robson_backtest.bus import MemoryBus
from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.platform import Platform
from robson_backtest.spec import BacktestSpec
from robson_contracts import Candle, ExitReason
from robson_paper.domain import EngineConfig
from robson_paper.domain.slippage import VolatilityScaled
from robson_position.domain.policy import ManagementPolicy

from .helpers import candles, policy, spec, trader
from .test_skipping import WATCH_OFF, WIDE_STOPS, _facts, _long_then

D = Decimal
RISE_THEN_FALL = ([("100", "100.1", "99.9", "100")] * 5
                  + [(str(c - 1), str(c) + ".1", str(c - 2) + ".9", str(c)) for c in range(101, 111)]
                  + [(str(c + 1), str(c + 1) + ".1", str(c - 1) + ".9", str(c)) for c in range(109, 95, -1)]
                  + [("96", "96.1", "80", "81")] + [("81", "81.1", "80.9", "81")] * 3)
"""After the entry (10.64 at 94, stop 84.60): flat, a rise to 110, a fall to 96, then a bar
through the stop."""


def _held_long(**account_policy: object) -> BacktestSpec:
    return spec((replace(trader("t", ("BTCUSDT",)), decision=WIDE_STOPS),),
                policy(**(account_policy or WATCH_OFF)))


class _Run:
    """A run's result, its platform, and the candles each consumer took."""

    def __init__(self, s: BacktestSpec, bars: list, monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
                 skip_idle: bool = True) -> None:
        platforms: list[Platform] = []
        taken: Counter[str] = Counter()
        deliver = MemoryBus._deliver

        class Recording(Platform):
            def __init__(self, *args: object) -> None:
                super().__init__(*args)  # type: ignore[arg-type]
                platforms.append(self)

        async def counted(bus: MemoryBus, route, batch) -> None:  # type: ignore[no-untyped-def]
            taken[route.spec.name] += sum(isinstance(m, Candle) for m in batch)
            await deliver(bus, route, batch)

        with monkeypatch.context() as m:
            m.setattr(engine, "Platform", Recording)
            m.setattr(MemoryBus, "_deliver", counted)
            self.result: RunResult = asyncio.run(run_backtest(s, bars, skip_idle=skip_idle))
        [self.platform] = platforms
        self.candles = taken

    def positions(self) -> list[dict]:  # type: ignore[type-arg]
        """Every position's final state (marks included: best, worst, peak P&L, largest fall),
        but its version: that counts writes, one per transaction, and owed candles go through
        in one."""
        rows = self.platform.position_tables.positions.values()
        return [r.state.model_dump(exclude={"version"}) for r in rows]


def test_held_longs_quiet_bars_reach_position_each_and_paper_and_the_gate_once_per_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bars = _long_then(RISE_THEN_FALL)
    s = _held_long()
    held = _Run(s, bars, monkeypatch)
    everything = _Run(s, bars, monkeypatch, skip_idle=False)
    assert [t.exit_reason for t in everything.result.trades] == [ExitReason.STOP_LOSS]
    assert _facts(held.result) == _facts(everything.result)
    # position's marks (best, worst, peak P&L, largest fall) took every bar's range
    assert held.positions() == everything.positions()
    [state] = [r.state for r in held.platform.position_tables.positions.values()]
    assert state.best_price == D("110.1")  # reached in a held-back run of bars
    # from the entry (02:55) to the stop's bar: every candle to position, a handful to paper
    after_entry = len(bars) - 36
    assert held.candles["position_candles"] >= after_entry - 1
    assert held.candles["paper_market"] < 10 and held.candles["entry_gate_market"] < 10
    assert everything.candles["paper_market"] == len(bars)


@pytest.mark.parametrize("management", [ManagementPolicy(trailing_pct=D(5)),
                                        ManagementPolicy(breakeven_trigger_pct=D(5)),
                                        ManagementPolicy(time_exit_minutes=600)])
def test_a_rule_that_may_act_on_a_candle_keeps_each_bar_going_through_every_service(
        management: ManagementPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _held_long()
    s = replace(s, traders=(replace(s.traders[0], management=management),))
    bars = _long_then(RISE_THEN_FALL)
    held = _Run(s, bars, monkeypatch)
    everything = _Run(s, bars, monkeypatch, skip_idle=False)
    assert _facts(held.result) == _facts(everything.result)
    assert held.positions() == everything.positions()
    assert held.candles["paper_market"] == held.candles["position_candles"] > 40


def test_a_watched_holders_bars_go_through_the_gate_each() -> None:
    """Drawdown watched: the gate must see each close (its peak equity), so nothing is held."""
    s = _held_long(drawdown={"enabled": True, "limit": "0.5"})
    bars = _long_then(RISE_THEN_FALL)
    with pytest.MonkeyPatch.context() as m:
        held = _Run(s, bars, m)
    assert held.candles["entry_gate_market"] == held.candles["position_candles"] > 40


def test_two_symbols_held_together_end_as_sending_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slippage scaled by the last candle's range: a stop filled on the first bar after a run
    of held-back ones slips by the last of them (paper must have it)."""
    s = spec((trader("fast", ("BTCUSDT", "ETHUSDT")), trader("slow", ("BTCUSDT",), fast=8, slow=21)),
             policy(**WATCH_OFF))
    s = replace(s, venue=EngineConfig(slippage=VolatilityScaled(full_range=D("0.004"))))
    bars = candles(["BTCUSDT", "ETHUSDT"], 1500, seed=5)
    held = _Run(s, bars, monkeypatch)
    everything = _Run(s, bars, monkeypatch, skip_idle=False)
    assert len(everything.result.trades) >= 5
    assert _facts(held.result) == _facts(everything.result)
    assert held.positions() == everything.positions()
    assert held.candles["paper_market"] < held.candles["position_candles"] * 0.9


def test_a_trailed_position_opening_beside_a_held_one_takes_every_candle_from_its_entry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One trader's quiet position has its bars held back; another trader's position on the
    same symbol, trailed, opens meanwhile: from that delivery on, no bar may be held back on
    what was found of the symbol before it (its trail acts on each candle)."""
    plain = trader("plain", ("BTCUSDT",))
    trailed = replace(trader("trailed", ("BTCUSDT",), fast=8, slow=21),
                      management=ManagementPolicy(trailing_pct=D("0.5")))
    s = spec((plain, trailed), policy(**WATCH_OFF))
    bars = candles(["BTCUSDT"], 1500, seed=5)
    held = _Run(s, bars, monkeypatch)
    everything = _Run(s, bars, monkeypatch, skip_idle=False)
    reasons = {(t.trader_id, t.exit_reason) for t in everything.result.trades}
    assert ("trailed", ExitReason.TRAILING_STOP) in reasons
    assert _facts(held.result) == _facts(everything.result)
    assert held.positions() == everything.positions()
    assert held.candles["paper_market"] < held.candles["position_candles"]  # some were owed
