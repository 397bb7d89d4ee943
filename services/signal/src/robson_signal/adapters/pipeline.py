"""Closed bars → strategies → bus, in order: path ticks, candle, signals. Then stored.

Publishing is awaited in bounded windows (back-pressure: memory never grows with the input).
Every message id is derived from the bar, so republishing after a crash is dropped by
JetStream's duplicate window and by consumers' inboxes; storing after publishing means a
crash can only cause a harmless republish on catch-up, never a lost candle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from robson_contracts import FeedSource, Message, SignalDetected, TradeTick
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


class Pipeline:
    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        engine: StrategyEngine,
        status: FeedStatus,
        window: int = 512,
    ) -> None:
        self.bus, self.sessions, self.engine, self.status = bus, sessions, engine, status
        self.window = window
        self.lock = asyncio.Lock()
        """One writer at a time: feed tasks and catch-up share the strategy state."""

    async def process(
        self,
        bars: list[Bar],
        source: FeedSource,
        with_path_ticks: bool = True,
        publish: bool = True,
    ) -> list[SignalDetected]:
        """``publish=False`` warms strategies and storage without emitting (live warm-up)."""
        async with self.lock:
            messages: list[Message] = []
            produced: list[SignalDetected] = []
            for bar in bars:
                if with_path_ticks:
                    messages.extend(path_ticks(bar, source))
                messages.append(candle_event(bar, source))
                signals = self.engine.on_bar(bar)
                produced.extend(signals)
                messages.extend(signals)
            if publish:
                await self.publish(messages)
            async with self.sessions() as session, session.begin():
                await repo.store_bars(session, bars, source.value)
                await repo.insert_signals(session, produced)
            self._account(bars, produced, with_path_ticks and publish)
            return produced

    async def process_in_steps(
        self, bars: list[Bar], source: FeedSource, settle: Callable[[], Awaitable[None]]
    ) -> list[SignalDetected]:
        """Lockstep: bars closing at the same time go out in three steps — their path ticks
        (in event-time order), then their candles, then the signals — each step only once
        ``settle`` says the platform has drained the previous one. So a fill caused by a tick
        is known before the candle is reviewed, decision has stored the candle before it
        judges a signal on it, and an order placed on a signal fills at the next candle's
        open: who sees what first no longer depends on timing."""
        async with self.lock:
            ticks = sorted(
                (t for bar in bars for t in path_ticks(bar, source)),
                key=lambda t: (t.occurred_at, t.symbol),
            )
            candles = [candle_event(bar, source) for bar in bars]
            produced = [signal for bar in bars for signal in self.engine.on_bar(bar)]
            for step in (ticks, candles, produced):
                if step:
                    await self.publish(list(step))
                    await settle()
            async with self.sessions() as session, session.begin():
                await repo.store_bars(session, bars, source.value)
                await repo.insert_signals(session, produced)
            self._account(bars, produced, True)
            return produced

    async def publish(self, messages: list[Message]) -> None:
        for start in range(0, len(messages), self.window):
            chunk = messages[start : start + self.window]
            async for attempt in AsyncRetrying(
                wait=wait_exponential(0.2, max=5),
                retry=retry_if_exception_type(Exception),
                before_sleep=_log_retry,
            ):
                with attempt:
                    await asyncio.gather(*(self.bus.publish(m) for m in chunk))

    async def publish_ticks(self, ticks: list[TradeTick]) -> None:
        await self.publish(list(ticks))
        self.status.ticks += len(ticks)

    def _account(self, bars: list[Bar], produced: list[SignalDetected], ticks: bool) -> None:
        self.status.candles += len(bars)
        self.status.signals += len(produced)
        self.status.ticks += 4 * len(bars) if ticks else 0
        for bar in bars:
            self.status.observed(bar.symbol, bar.timeframe.value, bar.close_time)


def _log_retry(state: object) -> None:
    outcome = getattr(state, "outcome", None)
    log.warning("publish.retry", error=repr(outcome.exception()) if outcome else None)


Progress = Callable[[int], None]
