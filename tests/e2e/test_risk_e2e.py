"""The risk rules acting on their own, across all six services (OS processes on real NATS +
Postgres, a designed kline replay in lockstep, the shipped risk policy with only the limit
under test tightened): a mark-to-market loss that trips the daily limit flattens the account
and locks it until the next reset, with one RiskLimitBreached; a crash that trips the drawdown
kill switch flattens it through the bus (entry_gate → CloseAllPositions → position → paper)
and leaves the kill switch engaged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from robson_contracts import (
    CloseAllPositions,
    ExitReason,
    GateOutcome,
    PositionClosed,
    PositionOpened,
    RiskAction,
    RiskLimitBreached,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, reset_streams

from .harness import ACCOUNT, TRADER, Outcome, Platform, collect

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, so the next reset is 2024-01-02 00:00
FIVE_MINUTES_MS = 300_000


def designed(start: float) -> list[tuple[float, float, float, float]]:
    """(open, high, low, close): a slow fall (fast EMA under slow), a slow rise that crosses
    the EMAs up (a LONG entry; 1% wicks keep the ATR stop, ~1.6% away, and the take-profits
    far), then a fall of 0.4% a candle with short wicks — the positions lose on their marks
    long before their stops."""
    moves = [-0.0008] * 40 + [0.0008] * 14 + [-0.004] * 8 + [0.0] * 6
    out, close = [], start
    for n, move in enumerate(moves):
        open_, close = close, close * (1 + move)
        high, low = max(open_, close) * 1.005, min(open_, close) * 0.995
        if n >= 54:  # the fall, then calm: no long wicks
            high, low = max(open_, close), min(open_, close) * 0.999
        out.append((open_, high, low, close))
    return out


def write_designed(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol, start in (("BTCUSDT", 42_000.0), ("ETHUSDT", 2_300.0)):
        rows = ["open_time,open,high,low,close,volume"]
        for i, (o, h, lo, c) in enumerate(designed(start)):
            rows.append(f"{START_MS + i * FIVE_MINUTES_MS},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},1000")
        (directory / f"{symbol}-5m-2024-01.csv").write_text("\n".join(rows) + "\n")
    return directory


def config(risk: str) -> str:
    return f"""
accounts:
  - id: {ACCOUNT}
    mode: paper
    starting_balances: {{USDT: 10000}}
    allow_short: false
    risk: {{positions: {{min_confidence: 0.5}}, {risk}}}
traders:
  - id: {TRADER}
    account: {ACCOUNT}
    strategy: ema_cross
    params: {{fast: 5, slow: 13}}
    symbols: [BTCUSDT, ETHUSDT]
    timeframes: [5m]
    decision: {{engine: rules, min_strength: 0.5}}
"""


@pytest_asyncio.fixture(scope="module")
async def run_with(nats_url: str, database_url: str, e2e_bus: Bus,
                   tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Callable[[str], Awaitable[Outcome]]]:
    dataset = write_designed(tmp_path_factory.mktemp("designed"))
    logs = tmp_path_factory.mktemp("risk-logs")
    started: list[Platform] = []

    async def run(risk: str) -> Outcome:
        for platform in started:
            platform.stop()
        await reset_streams(e2e_bus)
        platform = Platform(nats_url, database_url, dataset, logs, config_yaml=config(risk))
        started.append(platform)
        await platform.start()
        await platform.configure()
        await platform.start_feed()
        await platform.wait_finished(e2e_bus)
        return await collect(platform, e2e_bus)

    try:
        yield run
    finally:
        for platform in started:
            platform.stop()


def opened_and_all_closed(outcome: Outcome) -> list[PositionClosed]:
    opened = [e for e in outcome.position_events if isinstance(e, PositionOpened)]
    assert len(opened) >= 2, "the designed rise must open a position on both symbols"
    assert all(p["status"] == "CLOSED" for p in outcome.positions), "ends flat"
    return [e for e in outcome.position_events if isinstance(e, PositionClosed)]


async def test_mark_to_market_loss_trips_daily_limit_flattens_and_locks_until_next_reset(
    run_with, e2e_bus: Bus
) -> None:
    # two positions of ~0.3% risk each (the 20% notional cap binds): 0.2% is a third of the way
    outcome = await run_with("daily_loss: {limit: 0.002}, drawdown: {enabled: false}")
    closed = opened_and_all_closed(outcome)
    assert {c.exit_reason for c in closed} == {ExitReason.RISK_LIMIT}
    breaches = await read_stream(e2e_bus, s.ALL_RISK_EVENTS)
    daily = [b for b in breaches if isinstance(b, RiskLimitBreached) and b.rule == "daily_loss"]
    assert len(daily) == 1, "published once"
    assert daily[0].action is RiskAction.CLOSE_ALL
    assert daily[0].until == datetime(2024, 1, 2, tzinfo=UTC)
    [lock] = [lk for lk in outcome.risk["lockouts"] if lk["reason_code"] == "DAILY_LOSS_LIMIT"]
    assert lock["until"].startswith("2024-01-02T00:00:00")
    late = [g for g in outcome.gate_decisions if g.occurred_at >= daily[0].occurred_at]
    assert all(g.outcome is GateOutcome.DENY_ENTRY for g in late)
    assert outcome.dead_letters == []


async def test_crash_trips_the_kill_switch_through_the_bus_and_ends_flat_with_it_engaged(
    run_with, e2e_bus: Bus
) -> None:
    outcome = await run_with("drawdown: {limit: 0.002}, daily_loss: {enabled: false}")
    closed = opened_and_all_closed(outcome)
    assert {c.exit_reason for c in closed} == {ExitReason.KILL_SWITCH}
    assert outcome.risk["kill_switch"]["engaged"] is True
    commands = [c for c in await read_stream(e2e_bus, s.ALL_POSITION_COMMANDS)
                if isinstance(c, CloseAllPositions)]
    assert len(commands) == 1 and commands[0].reason is ExitReason.KILL_SWITCH
    exits = [o for o in outcome.orders if o.get("role") == "EXIT"]
    assert len(exits) == len(closed), "position ran close-all once: one exit order a position"
    assert outcome.dead_letters == []
