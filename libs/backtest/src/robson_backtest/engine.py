"""The lockstep, in one process: bars closing at the same time go out as signal's replay sends
them — their path ticks (in event-time order), then their candles, then the signals — and each
step is drained through every service before the next (``Pipeline.process_in_steps``).

A bar that can change nothing (its symbol idle, no signal: see ``activity.py``) is not sent;
a held symbol's bar that can only move marks and latest prices is owed and handed over
before anything else goes through (``deferral.py``)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    Candle,
    FeedSource,
    OrderFilled,
    OrderPartiallyFilled,
    PositionClosed,
    SignalDetected,
)
from robson_signal.domain.bars import Bar
from robson_signal.domain.events import checked_bar_candle, path_ticks

from robson_backtest.activity import Activity
from robson_backtest.bus import NOBODY, DeadLetter
from robson_backtest.deferral import Owed
from robson_backtest.platform import Platform
from robson_backtest.spec import BacktestSpec

SOURCE = FeedSource.REPLAY
DECISION_CANDLES = "decision_candles"
POSITION_CANDLES = "position_candles"
NOT_DECISION = frozenset({DECISION_CANDLES})


@dataclass(slots=True)
class EquityPoint:
    at: datetime
    equity: Decimal
    exposed: bool


@dataclass(repr=False)
class RunResult:
    spec: BacktestSpec
    start: datetime | None
    end: datetime | None
    candles: int
    trades: list[PositionClosed]
    equity: list[EquityPoint]
    open_positions: int
    dead_letters: list[DeadLetter] = field(default_factory=list)
    messages: int = 0
    fills: list[OrderFilled | OrderPartiallyFilled] = field(default_factory=list)
    starting_equity: Decimal | None = None
    """The accounts' starting balances valued at each symbol's first open (a balance in a base
    asset counts at its first price, as the equity curve counts it); None: the USDT alone."""

    def __repr__(self) -> str:
        # A summary: ``asyncio.run`` formats its main task's result (this) twice when it
        # restores the SIGINT handler, and the full repr of a year's trades costs ~0.4 s each.
        return (f"RunResult({self.candles} candles, {len(self.trades)} trades, "
                f"{len(self.fills)} fills, {self.open_positions} open, "
                f"{len(self.dead_letters)} dead letters)")


async def run_backtest(spec: BacktestSpec, bars: Iterable[Bar],
                       progress: Callable[[int], None] | None = None,
                       skip_idle: bool = True) -> RunResult:
    """``skip_idle=False`` sends every tick and candle (the reference the skipping is tested
    against)."""
    with fewer_collections():
        return await _run(spec, bars, progress, skip_idle)


YOUNG_COLLECTION_THRESHOLD = 100_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A run keeps what it builds (the trades, fills, equity points, decision's candle window),
    so the count of tracked objects only grows and the default threshold (700) runs a
    collection every few hundred objects kept, about 700 a year of 5m bars: 7–9% of the run.
    At 100,000 a year takes a handful; garbage cycles wait at most that long. Restored after,
    with everything tracked moved to the oldest generation (``freeze`` then ``unfreeze``): left
    in the middle one, the run's objects were walked by the next middle collection, one pass of
    ~0.5 s over a year's run in whatever the caller did next (the report, a benchmark's
    reference loop)."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.set_threshold(*before)


async def _run(spec: BacktestSpec, bars: Iterable[Bar], progress: Callable[[int], None] | None,
               skip_idle: bool) -> RunResult:
    platform: Platform | None = None
    activity: Activity | None = None
    owed: Owed | None = None
    candles, group = 0, []
    equity: list[EquityPoint] = []
    first: datetime | None = None
    last: datetime | None = None
    first_open: dict[str, Decimal] = {}
    for bar in bars:
        first_open.setdefault(bar.symbol, bar.open)
        if platform is None:
            first = bar.open_time
            platform = Platform(spec, first)
            await platform.configure()
            activity = Activity(platform, skip_idle)
            owed = Owed(platform, activity)
        if group and bar.close_ms != group[0].close_ms:
            # most close times are settled by ``_plan`` alone: no coroutine for them
            point = _plan(platform, activity, owed, group, equity)  # type: ignore[arg-type]
            if type(point) is not EquityPoint:
                point = await _send(platform, activity, owed, group, equity, point)  # type: ignore[arg-type]
            equity.append(point)
            candles += len(group)
            if progress is not None:
                progress(len(group))
            group = []
        group.append(bar)
    if platform is not None and group:
        equity.append(await _step(platform, activity, owed, group, equity))  # type: ignore[arg-type]
        candles += len(group)
        if progress is not None:
            progress(len(group))
    if platform is None or owed is None:
        return RunResult(spec, None, None, 0, [], [], 0)
    await owed.settle()
    last = equity[-1].at if equity else first
    return RunResult(spec, first, last, candles, platform.recorder.closed, equity,
                     len(platform.recorder.open), platform.bus.dead_letters, platform.bus.published,
                     platform.recorder.fills, _valued(spec, first_open))


def _valued(spec: BacktestSpec, prices: dict[str, Decimal]) -> Decimal:
    total = Decimal(0)
    for account in spec.accounts:
        for asset, amount in account.balances.items():
            price = Decimal(1) if asset == "USDT" else prices.get(asset + "USDT")
            total += amount * price if price is not None else Decimal(0)
    return total


async def _step(platform: Platform, activity: Activity, owed: Owed, group: list[Bar],
                before: list[EquityPoint]) -> EquityPoint:
    """One close time: ``_plan``, then ``_send`` when the plan leaves messages to send."""
    point = _plan(platform, activity, owed, group, before)
    if type(point) is EquityPoint:
        return point
    return await _send(platform, activity, owed, group, before, point)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Sending:
    """What ``_plan`` found for a close time that sends something."""

    signals: list[SignalDetected]
    signalled: AbstractSet[str]
    busy: set[str]
    live: list[Bar]
    candles: dict[int, Candle]


NOTHING: frozenset[str] = frozenset()


def _plan(platform: Platform, activity: Activity, owed: Owed, group: list[Bar],
          before: list[EquityPoint]) -> EquityPoint | _Sending:
    """The close time's equity point when it sends nothing (idle, or owed: ``deferral.py``);
    otherwise what ``_send`` sends. Runs the strategies on the bars either way."""
    at = group[0].close_time
    platform.clock.set(at)
    if len(group) == 1:  # one symbol and timeframe: most runs' every close time
        bar = group[0]
        signals = platform.strategies.on_bar(bar)
        signalled: AbstractSet[str] = {s.symbol for s in signals} if signals else NOTHING
        busy = activity.busy(() if bar.symbol in signalled else (bar.symbol,))
    else:
        signals = [s for bar in group for s in platform.strategies.on_bar(bar)]
        signalled = {s.symbol for s in signals}
        busy = activity.busy({bar.symbol for bar in group} - signalled)
    if not signals and not busy and not activity.atr_history:  # most steps: nothing to send
        if activity.window:
            for bar in group:
                activity.skip(bar)
        return _unchanged(platform, at, before)
    live = [bar for bar in group if bar.symbol in busy or bar.symbol in signalled]
    reviews = activity.decision_reviews
    candles = {id(bar): checked_bar_candle(bar, SOURCE) for bar in live}
    if activity.window:  # decision's window keeps the bars it is not sent
        for bar in group:
            if bar.symbol not in signalled and (not reviews or bar.symbol not in busy):
                activity.skip(bar, candles.get(id(bar)))
    if live and not signals and owed.defer(live, candles):
        return EquityPoint(at, owed.equity(), bool(platform.recorder.open))
    return _Sending(signals, signalled, busy, live, candles)


async def _send(platform: Platform, activity: Activity, owed: Owed, group: list[Bar],
                before: list[EquityPoint], plan: _Sending) -> EquityPoint:
    """Deliver the close time ``_plan`` found busy, through every service, and value it."""
    at = group[0].close_time
    signals, signalled, busy, live, candles = (plan.signals, plan.signalled, plan.busy,
                                               plan.live, plan.candles)
    reviews = activity.decision_reviews
    if live:  # held-back bars go through before anything else does
        await owed.settle()
    bus = platform.bus
    for symbol in sorted(signalled - busy if reviews else signalled):
        history = activity.catch_up(symbol)
        if history:
            await bus.deliver_to(DECISION_CANDLES, history)
    if activity.atr_history and len(live) < len(group):
        skipped = [checked_bar_candle(bar, SOURCE) for bar in group if bar not in live]
        await bus.deliver_to(POSITION_CANDLES, skipped)
    if not live:
        return _unchanged(platform, at, before)
    # Ticks all or none: one moving symbol's fills are valued at every symbol's latest tick.
    # A signalled bar's too: its signal goes out after its candle, so its ticks meet only what
    # rests already (an idle symbol's: nothing), as a busy bar's do.
    quiet = activity.quiet(live)
    ticks = [] if quiet else [t for bar in live
                                for t in path_ticks(bar, SOURCE, candles[id(bar)].message_id)]
    if len(live) > 1:
        ticks.sort(key=lambda t: (t.occurred_at, t.symbol))
    if ticks:
        bus.publish(ticks)
        await bus.drain()
    decides_on_bars = reviews or activity.window > 0
    for bar in live:  # decision's come by catch_up, unless it may review or decide on them
        not_for = NOBODY if decides_on_bars and (reviews or bar.symbol in signalled) \
            else NOT_DECISION
        bus.publish((candles[id(bar)],), not_for)
    await bus.drain()
    if signals:
        bus.publish(signals)
        await bus.drain()
    return EquityPoint(at, platform.equity(), bool(platform.recorder.open))


def _unchanged(platform: Platform, at: datetime, before: list[EquityPoint]) -> EquityPoint:
    """A step that moved nothing: the equity is the previous step's."""
    if before:
        last = before[-1]
        return EquityPoint(at, last.equity, last.exposed)
    return EquityPoint(at, platform.equity(), bool(platform.recorder.open))
