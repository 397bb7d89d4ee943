"""Closed bars → strategies → bus, in order: path ticks, candle, signals. Then stored.

Publishing is awaited in bounded windows (back-pressure: memory never grows with the input).
Every message id is derived from the bar, so republishing after a crash is dropped by
JetStream's duplicate window and by consumers' inboxes; storing after publishing means a
crash can only cause a harmless republish on catch-up, never a lost candle.

A database or NATS error does not lose the feed's place: the strategies see each bar once
(the pipeline keeps a cursor per series and ignores bars at or before it), and the work left
for a bar — publish, settle, store — is queued as steps and retried with backoff, the feed's
state ``retrying`` with the error meanwhile. A step that keeps failing raises ``StepFailed``
with its work still queued: the supervised feed restarts and resumes at that very step.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal

from robson_contracts import FeedSource, Message, SignalDetected, Timeframe, TradeTick
from robson_contracts.subjects import subject_for
from robson_kit.bus import Bus
from robson_kit.logs import get_logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from robson_signal.adapters import repository as repo
from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.events import candle_event, path_ticks
from robson_signal.domain.feedstatus import FeedStatus

log = get_logger(__name__)
Step = Callable[[], Awaitable[None]]
Tickless = Callable[[dict[str, tuple[Decimal, Decimal]] | None], Awaitable[bool]]
STORE_BATCH = 200
"""Lockstep: bars stored per transaction at most (and at the end of the run)."""


class StepFailed(Exception):
    """A pipeline step kept failing; it stays queued and runs first on the next call."""


class Pipeline:
    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        engine: StrategyEngine,
        status: FeedStatus,
        window: int = 512,
        step_attempts: int = 6,
        retry_base: float = 0.2,
    ) -> None:
        self.bus, self.sessions, self.engine, self.status = bus, sessions, engine, status
        self.window = window
        self.step_attempts, self.retry_base = step_attempts, retry_base
        self.lock = asyncio.Lock()
        """One writer at a time: feed tasks and catch-up share the strategy state."""
        self.cursor: dict[tuple[str, Timeframe], int] = {}
        """Close time (ms) of the last bar the strategies saw, per series."""
        self._todo: deque[tuple[str, Step]] = deque()
        self.track_published = False
        """Lockstep: remember what was published (``take_published``) for the settle."""
        self.published: list[tuple[str, int]] = []
        self._unsettled = False
        self.streamed = 0
        """Lockstep: close times that went out without a settle."""
        """Lockstep: close times published without a settle since the last one."""
        self._staged: list[tuple[list[Bar], FeedSource, list[SignalDetected], int]] = []
        self.last_price: dict[str, Decimal] = {}
        """Lockstep: each symbol's last published price (its last bar's close)."""
        self.tickless_steps = 0
        """Lockstep: close times whose candles went out without their ticks."""

    def accepted(self, bar: Bar) -> bool:
        return self.cursor.get((bar.symbol, bar.timeframe), -1) >= bar.close_ms

    def _accept(self, bars: list[Bar]) -> list[Bar]:
        fresh = [b for b in bars if not self.accepted(b)]
        for b in fresh:
            self.cursor[(b.symbol, b.timeframe)] = b.close_ms
        return fresh

    async def resume(self) -> None:
        """Finish the steps a failure left queued."""
        async with self.lock:
            await self._drain()

    async def process(
        self,
        bars: list[Bar],
        source: FeedSource,
        with_path_ticks: bool = True,
        publish: bool = True,
    ) -> list[SignalDetected]:
        """``publish=False`` warms strategies and storage without emitting (live warm-up)."""
        async with self.lock:
            fresh = self._accept(bars)
            messages: list[Message] = []
            produced: list[SignalDetected] = []
            for bar in fresh:
                if with_path_ticks:
                    messages.extend(path_ticks(bar, source))
                messages.append(candle_event(bar, source))
                signals = self.engine.on_bar(bar)
                produced.extend(signals)
                messages.extend(signals)
            if publish:
                self._queue("publish", lambda: self._publish_once(messages))
            # Signals not published are not stored either: ``GET /signals`` is what went out
            # (a warm-up's cold strategies may fire where no published signal ever did).
            self._queue_store(fresh, source, produced if publish else [],
                              4 * len(fresh) if with_path_ticks and publish else 0)
            await self._drain()
            return produced

    async def process_in_steps(
        self,
        bars: list[Bar],
        source: FeedSource,
        settle: Callable[[], Awaitable[None]],
        idle: Callable[[bool], Awaitable[bool]] | None = None,
        tickless: Tickless | None = None,
    ) -> list[SignalDetected]:
        """Lockstep: bars closing at the same time go out in three steps — their path ticks
        (in event-time order), then their candles, then the signals — each step only once
        ``settle`` says the platform has drained the previous one. So a fill caused by a tick
        is known before the candle is reviewed, decision has stored the candle before it
        judges a signal on it, and an order placed on a signal fills at the next candle's
        open: who sees what first no longer depends on timing.

        ``idle(settled)`` (the tracker of ``activity``) says when nothing on the platform can
        react to market data (no order rests, no position is open, nothing else went by):
        then the ticks and candles go out together, and a close time without signals is not
        settled at all — the next one follows at once (the services' consumers handle them
        in stream order, so the state is the same) until one has signals or the platform is
        busy again, which settles everything published so far first. Storing the bars is
        batched, settled or not (a crash republishes what was not stored: ids are derived).

        ``tickless(ranges)`` (also ``activity``), asked once the platform has settled, says when
        no resting order can act anywhere on these bars' paths (from each symbol's last price)
        and no holder's loss watch follows ticks: then the candles go out without their ticks,
        as the backtest sends such a step — paper fills the path in from the candle, position's
        marks take its high and low — and the step settles once instead of twice."""
        async with self.lock:
            fresh = self._accept(bars)
            ticks = sorted(
                (t for bar in fresh for t in path_ticks(bar, source)),
                key=lambda t: (t.occurred_at, t.symbol),
            )
            candles = [candle_event(bar, source) for bar in fresh]
            produced = [signal for bar in fresh for signal in self.engine.on_bar(bar)]
            ranges = self._ranges(fresh)
            quiet = idle is not None and await idle(not self._unsettled)
            if quiet and not produced:
                market: list[Message] = [*ticks, *candles]
                if market:
                    self._queue("publish market", lambda: self._publish_once(market))
                self._unsettled = True
                self.streamed += 1
                self._stage_store(fresh, source, produced, len(ticks))
                await self._drain()
                return produced
            if self._unsettled:
                self._queue("settle streamed", settle)
                await self._drain()
                self._unsettled = False
                quiet = idle is not None and await idle(True)
            if not quiet and tickless is not None and await tickless(ranges):
                ticks = []
                self.tickless_steps += 1
            steps: list[tuple[str, list[Message]]] = (
                [("market", [*ticks, *candles])] if quiet
                else [("ticks", list(ticks)), ("candles", list(candles))])
            steps.append(("signals", list(produced)))
            for name, step in steps:
                if step:
                    self._queue(f"publish {name}", lambda step=step: self._publish_once(step))
                    self._queue(f"settle {name}", settle)
            # Stored in batches here too, off the settled path: a busy close time used to wait
            # for its own transaction (and its fsync) before the next one could go out.
            self._stage_store(fresh, source, produced, len(ticks))
            await self._drain()
            return produced

    def _ranges(self, bars: list[Bar]) -> dict[str, tuple[Decimal, Decimal]] | None:
        """Each symbol's price range over these bars and the gap from its last price (None
        when a symbol has none yet); the bars' closes become the last prices."""
        ranges: dict[str, tuple[Decimal, Decimal]] | None = None
        if all(bar.symbol in self.last_price for bar in bars):
            ranges = {}
            for bar in bars:
                last = self.last_price[bar.symbol]
                low, high = ranges.get(bar.symbol, (last, last))
                ranges[bar.symbol] = (min(low, bar.low), max(high, bar.high))
        for bar in bars:
            self.last_price[bar.symbol] = bar.close
        return ranges

    def _stage_store(self, bars: list[Bar], source: FeedSource,
                     produced: list[SignalDetected], ticks: int) -> None:
        """Bars and signals to store, in batches of up to ``STORE_BATCH`` bars (lockstep)."""
        if not bars:
            return
        self._staged.append((bars, source, produced, ticks))
        if sum(len(b) for b, _, _, _ in self._staged) >= STORE_BATCH:
            self._flush_store()

    def _flush_store(self) -> None:
        staged, self._staged = self._staged, []
        if not staged:
            return

        self._queue_store([bar for group, _, _, _ in staged for bar in group], staged[0][1],
                          [signal for _, _, produced, _ in staged for signal in produced],
                          sum(n for _, _, _, n in staged))

    async def finish_lockstep(self, settle: Callable[[], Awaitable[None]]) -> None:
        """The end of a lockstep run: what was streamed is settled and stored."""
        async with self.lock:
            if self._unsettled:
                self._queue("settle streamed", settle)
                self._unsettled = False
            self._flush_store()
            await self._drain()

    def _queue(self, name: str, step: Step) -> None:
        self._todo.append((name, step))

    def _queue_store(
        self, bars: list[Bar], source: FeedSource, produced: list[SignalDetected], ticks: int
    ) -> None:
        """Store the bars and signals in one transaction, then count them (and ``ticks``)."""
        async def store() -> None:
            async with self.sessions() as session, session.begin():
                await repo.store_bars(session, bars, source.value)
                await repo.insert_signals(session, produced)

        async def account() -> None:
            self._account(bars, produced, ticks)

        if bars:
            self._queue("store", store)
            self._queue("account", account)

    async def _drain(self) -> None:
        while self._todo:
            name, step = self._todo[0]
            await self._attempt(name, step)
            self._todo.popleft()

    async def _attempt(self, name: str, step: Step) -> None:
        for attempt in range(1, self.step_attempts + 1):
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{name}: {type(exc).__name__}: {exc}"[:300]
                self.status.state, self.status.error = "retrying", error
                if attempt == self.step_attempts:
                    raise StepFailed(error) from exc
                delay = min(5.0, self.retry_base * 2 ** (attempt - 1))
                log.warning("pipeline.step_retry", step=name, attempt=attempt, error=error,
                            retry_in=delay)
                await asyncio.sleep(delay)
                continue
            if self.status.state == "retrying":
                self.status.state, self.status.error = "running", None
            return

    async def _publish_once(self, messages: list[Message]) -> None:
        for start in range(0, len(messages), self.window):
            chunk = messages[start : start + self.window]
            seqs = await asyncio.gather(*(self.bus.publish(m) for m in chunk))
            if self.track_published:
                self.published.extend(zip((subject_for(m) for m in chunk), seqs, strict=True))

    def take_published(self) -> list[tuple[str, int]]:
        """Lockstep: (subject, stream sequence) of what went out since the last call."""
        published, self.published = self.published, []
        return published

    async def publish(self, messages: list[Message]) -> None:
        """Publish outside the feed's steps (live ticks, market context): retried until sent."""
        async for attempt in AsyncRetrying(
            wait=wait_exponential(0.2, max=5),
            retry=retry_if_exception_type(Exception),
            before_sleep=_log_retry,
        ):
            with attempt:
                await self._publish_once(messages)

    async def publish_ticks(self, ticks: list[TradeTick]) -> None:
        await self.publish(list(ticks))
        self.status.ticks += len(ticks)

    def _account(self, bars: list[Bar], produced: list[SignalDetected], ticks: int) -> None:
        self.status.candles += len(bars)
        self.status.signals += len(produced)
        self.status.ticks += ticks
        for bar in bars:
            self.status.observed(bar.symbol, bar.timeframe.value, bar.close_time)


class ResumableBars:
    """A feed's input that survives the feed's restart: ``rewind()`` first hands out again
    the bars it handed out that the pipeline has not accepted (a batch a failure
    interrupted, a grouping's look-ahead), then continues the source. The source itself is
    read once, so its rows (and row problems) are never counted twice."""

    def __init__(self, source: Iterator[Bar], pipeline: Pipeline) -> None:
        self.source, self.pipeline = source, pipeline
        self.handed: deque[Bar] = deque()

    def rewind(self) -> Iterator[Bar]:
        again = [b for b in self.handed if not self.pipeline.accepted(b)]
        self.handed.clear()
        for bar in again:
            self.handed.append(bar)
            yield bar
        for bar in self.source:
            while self.handed and self.pipeline.accepted(self.handed[0]):
                self.handed.popleft()
            self.handed.append(bar)
            yield bar


def _log_retry(state: object) -> None:
    outcome = getattr(state, "outcome", None)
    log.warning("publish.retry", error=repr(outcome.exception()) if outcome else None)


Progress = Callable[[int], None]
