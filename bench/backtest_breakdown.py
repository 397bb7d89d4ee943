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

from bench.backtest_hooks import close_times, kind_lines


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
        out += kind_lines(self.steps, self.step_seconds, lambda s: f"{s * 1e6:8.1f} µs each",
                          lambda s: f"{s / self.seconds:6.1%} of the run")
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
    deliver = MemoryBus._deliver

    def ended(kind: str, started: float) -> None:
        found.steps[kind] += 1
        found.step_seconds[kind] += time.perf_counter() - started

    async def timed_deliver(bus: MemoryBus, route: Route, batch: list[Any]) -> None:
        started = time.perf_counter()
        await deliver(bus, route, batch)
        key = (route.spec.name, type(batch[0]).__name__)
        found.deliveries[key] += 1
        found.delivery_seconds[key] += time.perf_counter() - started

    MemoryBus._deliver = timed_deliver  # type: ignore[method-assign]
    try:
        with close_times(time.perf_counter, ended):
            started = time.perf_counter()
            result: RunResult = asyncio.run(engine.run_backtest(spec, bars))
            found.seconds = time.perf_counter() - started
    finally:
        MemoryBus._deliver = deliver  # type: ignore[method-assign]
    found.trades = len(result.trades)
    return found
