"""Where a backtest's time goes (``BENCH_BACKTEST_BREAKDOWN=1 make bench ARGS=backtest``,
printed after the timed runs): one more run of the same year, timed per close time and per
delivery.

Each close time is put in one kind by what it did: ``idle`` (nothing sent, nothing open),
``owed`` (nothing sent with a position open: a quiet bar held back, see
``libs/backtest/deferral.py``), ``signal`` (messages delivered, no fill) and ``fill`` (a fill
among them). Each delivery of the in-memory bus (one consumer taking one message, or one
fetched batch of ticks) is timed under its consumer and message type, and counted per closed
trade. The wrappers cost a little of their own (~5%): the figures say where the time goes,
the timed runs say how long it takes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from robson_backtest import engine
from robson_backtest.bus import MemoryBus, Route
from robson_backtest.engine import RunResult
from robson_backtest.spec import BacktestSpec
from robson_signal.domain.bars import Bar


@dataclass
class Breakdown:
    steps: Counter[str] = field(default_factory=Counter)
    step_seconds: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    delivery_seconds: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0
    trades: int = 0

    def lines(self) -> list[str]:
        out = [f"backtest breakdown: {self.seconds:.2f} s, {self.trades} trades"]
        for kind in ("signal", "fill", "owed", "idle"):
            n, s = self.steps[kind], self.step_seconds[kind]
            if n:
                out.append(f"  close times {kind:<7} {n:>7,}  {s / n * 1e6:8.1f} µs each  "
                           f"{s / self.seconds:6.1%} of the run")
        out.append("  deliveries: consumer, message — per trade, µs each, µs a trade")
        trades = max(self.trades, 1)
        rows = sorted(self.deliveries, key=lambda k: -self.delivery_seconds[k])
        for consumer, kind in rows:
            n, s = self.deliveries[consumer, kind], self.delivery_seconds[consumer, kind]
            out.append(f"    {consumer:<24} {kind:<22} {n / trades:6.2f} {s / n * 1e6:8.1f} "
                       f"{s / trades * 1e6:8.1f}")
        total = sum(self.delivery_seconds.values())
        out.append(f"  all deliveries: {sum(self.deliveries.values()) / trades:.1f} a trade, "
                   f"{total / trades * 1e3:.2f} ms a trade, {total / self.seconds:.1%} of the run")
        return out


def measure(spec: BacktestSpec, bars: list[Bar]) -> Breakdown:
    """One run with every close time and delivery timed."""
    found = Breakdown()
    plan, send, deliver = engine._plan, engine._send, MemoryBus._deliver
    began: list[tuple[float, int, int]] = []

    def record(platform: Any, started: float, sent: int, fills: int) -> None:
        elapsed = time.perf_counter() - started
        if platform.bus.published == sent:
            kind = "owed" if platform.recorder.open else "idle"
        else:
            kind = "fill" if len(platform.recorder.fills) > fills else "signal"
        found.steps[kind] += 1
        found.step_seconds[kind] += elapsed

    def timed_plan(platform: Any, activity: Any, owed: Any, group: list[Bar],
                   before: list[Any]) -> Any:
        sent, fills = platform.bus.published, len(platform.recorder.fills)
        started = time.perf_counter()
        point = plan(platform, activity, owed, group, before)
        if type(point) is engine.EquityPoint:
            record(platform, started, sent, fills)
        else:  # timed on to the end of ``_send``
            began.append((started, sent, fills))
        return point

    async def timed_send(platform: Any, activity: Any, owed: Any, group: list[Bar],
                         before: list[Any], planned: Any) -> Any:
        point = await send(platform, activity, owed, group, before, planned)
        record(platform, *began.pop())
        return point

    async def timed_deliver(bus: MemoryBus, route: Route, batch: list[Any]) -> None:
        started = time.perf_counter()
        await deliver(bus, route, batch)
        key = (route.spec.name, type(batch[0]).__name__)
        found.deliveries[key] += 1
        found.delivery_seconds[key] += time.perf_counter() - started

    engine._plan, engine._send = timed_plan, timed_send  # type: ignore[assignment]
    MemoryBus._deliver = timed_deliver  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        result: RunResult = asyncio.run(engine.run_backtest(spec, bars))
        found.seconds = time.perf_counter() - started
    finally:
        engine._plan, engine._send = plan, send  # type: ignore[assignment]
        MemoryBus._deliver = deliver  # type: ignore[method-assign]
    found.trades = len(result.trades)
    return found
