"""Where a backtest's calls go (``BENCH_BACKTEST_CALLS=1 make bench ARGS=backtest``, printed
after the timed runs): one more run of the same year with every Python and C call counted
(``sys.setprofile``), per close time by kind and per delivery of the in-memory bus.

Counts, unlike timings, are the same on a quiet host and a busy one: two versions of the code
compare by them however noisy the machine. A close time's own calls (the strategies, the
candle, the deferral's checks, the equity point) are counted apart from its deliveries, which
are counted under their consumer and message type. The kinds are ``backtest_breakdown``'s.
The run is several times slower than an uncounted one."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from robson_backtest import engine
from robson_backtest.bus import MemoryBus, Route
from robson_backtest.spec import BacktestSpec
from robson_signal.domain.bars import Bar

from bench.backtest_hooks import close_times, kind_lines


@dataclass
class Calls:
    steps: Counter[str] = field(default_factory=Counter)
    step_calls: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)
    delivery_calls: Counter[str] = field(default_factory=Counter)
    trades: int = 0
    setup: int = 0
    """Calls before the first close time (the platform's set-up), counted nowhere else."""

    def lines(self) -> list[str]:
        total = sum(self.step_calls.values()) + sum(self.delivery_calls.values())
        trades = max(self.trades, 1)
        out = [f"backtest calls: {total:,} ({total / trades:,.0f} a trade), {self.trades} trades"]
        out += kind_lines(self.steps, self.step_calls, lambda c: f"{c:7.1f} own calls each",
                          lambda c: f"{c / total:6.1%} of all")
        out.append("  deliveries: consumer:message — per trade, calls each, calls a trade")
        for key, calls in self.delivery_calls.most_common():
            n = self.deliveries[key]
            out.append(f"    {key:<46} {n / trades:6.2f} {calls / n:8.1f} {calls / trades:8.0f}")
        return out


class _Counting:
    """The profile hook: every call goes to the delivery under way, else to the close time;
    the counting wrappers' own calls (and those they make) go nowhere."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self.delivery: str | None = None
        self.step = 0
        self.ours: set[object] = set()
        """The wrappers' code objects."""

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if (event == "call" or event == "c_call") and frame.f_code not in self.ours:
            if self.delivery is None:
                self.step += 1
            else:
                self.counts[self.delivery] += 1


def measure(spec: BacktestSpec, bars: list[Bar]) -> Calls:
    found = Calls()
    hook = _Counting(found.delivery_calls)
    deliver = MemoryBus._deliver
    first = [True]

    def began() -> None:
        if first[0]:  # what ran before the first close time: the set-up
            found.setup, hook.step, first[0] = hook.step, 0, False

    def ended(kind: str, token: None) -> None:
        found.steps[kind] += 1
        found.step_calls[kind] += hook.step
        hook.step = 0

    async def counted_deliver(bus: MemoryBus, route: Route, batch: list[Any]) -> None:
        key = f"{route.spec.name}:{type(batch[0]).__name__}"
        outer, hook.delivery = hook.delivery, key
        found.deliveries[key] += 1
        try:
            await deliver(bus, route, batch)
        finally:
            hook.delivery = outer

    MemoryBus._deliver = counted_deliver  # type: ignore[method-assign]
    try:
        with close_times(began, ended) as hooks:
            hook.ours.update(hooks, (began.__code__, ended.__code__, counted_deliver.__code__))
            sys.setprofile(hook)
            try:
                result = asyncio.run(engine.run_backtest(spec, bars))
            finally:
                sys.setprofile(None)
    finally:
        MemoryBus._deliver = deliver  # type: ignore[method-assign]
    found.trades = len(result.trades)
    return found
