"""Live Binance feed: kline + trade streams, REST backfill of gaps, reconnect, staleness.

python-binance's socket reconnects by itself after a drop; whatever it missed shows up as a
gap before the next closed kline and is backfilled over REST, in order, before that kline.
When its read loop gives up (or the feed goes stale) the whole client is rebuilt with backoff.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import FeedSource, Timeframe, TradeTick, derive_id
from robson_kit.clock import Clock
from robson_kit.logs import get_logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_signal.adapters import repository as repo
from robson_signal.adapters.binance_client import (
    bar_from_ws,
    fetch_klines,
    make_client,
    make_socket_manager,
)
from robson_signal.adapters.pipeline import Pipeline
from robson_signal.domain.bars import Bar, dt_to_ms, ms_to_dt
from robson_signal.settings import SignalSettings

log = get_logger(__name__)


class StaleFeedError(Exception):
    pass


class LiveFeed:
    def __init__(
        self,
        settings: SignalSettings,
        pipeline: Pipeline,
        clock: Clock,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings, self.pipeline, self.clock, self.sessions = (
            settings,
            pipeline,
            clock,
            sessions,
        )
        self.status = pipeline.status
        series = {
            (s, Timeframe(tf)) for s in settings.symbol_list for tf in settings.timeframe_list
        }
        series |= {(s, tf) for s, tf in pipeline.engine.series()}
        self.series = sorted(series, key=lambda x: (x[0], x[1].seconds))
        self.last_ms: dict[tuple[str, Timeframe], int] = {}
        self.path_ticks = not settings.binance_trade_ticks

    def streams(self) -> list[str]:
        names = [f"{s.lower()}@kline_{tf.value}" for s, tf in self.series]
        if self.settings.binance_trade_ticks:
            names += sorted({f"{s.lower()}@trade" for s, _ in self.series})
        return names

    async def run(self) -> None:
        backoff = 1.0
        while True:
            client = make_client(self.settings.binance_api_url, self.settings.binance_futures_url)
            try:
                await self.catch_up(client)
                backoff = 1.0
                await self.stream(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.state = "stale" if isinstance(exc, StaleFeedError) else "unreachable"
                self.status.error = f"{type(exc).__name__}: {exc}"
                log.warning("binance.disconnected", error=self.status.error, retry_in=backoff)
            finally:
                await client.close_connection()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)

    async def catch_up(self, client: Any) -> None:
        """Fill every series up to the last closed candle: publish what was missed since the
        last stored candle; on a first start, warm strategies up silently."""
        now_ms = dt_to_ms(self.clock.now())
        for symbol, tf in self.series:
            key = (symbol, tf)
            if key not in self.last_ms:
                async with self.sessions() as session:
                    stored = await repo.last_bar_ms(session, symbol, tf)
                if stored is not None:
                    self.last_ms[key] = stored
                    await self._warm_from_store(symbol, tf, stored)
            step = tf.seconds * 1000
            last = self.last_ms.get(key)
            if last is None:
                start = now_ms - (self.settings.binance_warmup_candles + 1) * step
                bars = _closed(await fetch_klines(client, symbol, tf, start, now_ms), now_ms)
                await self._process(bars, publish=False)
            else:
                bars = _closed(await fetch_klines(client, symbol, tf, last + step, now_ms), now_ms)
                await self._process(bars)

    async def _warm_from_store(self, symbol: str, tf: Timeframe, last_ms: int) -> None:
        """A restart: the strategies are new, so the stored candles up to the last one (as many
        as a first start's warm-up) feed them silently before the missed ones are published."""
        count = self.settings.binance_warmup_candles
        if count <= 0:
            return
        start = last_ms - (count - 1) * tf.seconds * 1000
        async with self.sessions() as session:
            rows = await repo.load_candles(session, symbol, tf, start, last_ms + 1, limit=count)
        await self._process([bar for bar, _ in rows], publish=False)

    async def stream(self, client: Any) -> None:
        socket = make_socket_manager(client, self.settings.binance_stream_url).multiplex_socket(
            self.streams()
        )
        async with socket as ws:
            self.status.state, self.status.error = "running", None
            log.info("binance.streaming", streams=len(self.streams()))
            while True:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=self.settings.stale_seconds)
                except TimeoutError:
                    raise StaleFeedError(f"no message for {self.settings.stale_seconds}s") from None
                self.status.last_message_at = self.clock.now()
                await self.on_message(client, message)

    async def on_message(self, client: Any, message: dict[str, Any]) -> None:
        if message.get("e") == "error":
            self.status.state, self.status.error = "reconnecting", str(message.get("m"))
            log.warning("binance.socket_error", error=message.get("m"), kind=message.get("type"))
            return
        data = message.get("data", message)
        self.status.state = "running"
        if data.get("e") == "kline" and data["k"].get("x"):
            await self.on_closed_kline(client, bar_from_ws(data["k"]))
        elif data.get("e") == "trade":
            await self.pipeline.publish_ticks([trade_tick(data)])

    async def on_closed_kline(self, client: Any, bar: Bar) -> None:
        key = (bar.symbol, bar.timeframe)
        last = self.last_ms.get(key)
        step = bar.timeframe.seconds * 1000
        if last is not None and bar.open_ms <= last:
            return  # already have it (backfilled or repeated after reconnect)
        bars = [bar]
        if last is not None and bar.open_ms > last + step:
            gap = await fetch_klines(
                client, bar.symbol, bar.timeframe, last + step, bar.open_ms - step
            )
            log.info(
                "binance.gap_backfilled",
                symbol=bar.symbol,
                timeframe=bar.timeframe.value,
                candles=len(gap),
            )
            bars = [b for b in gap if b.open_ms < bar.open_ms] + bars
        await self._process(bars)

    async def _process(self, bars: list[Bar], publish: bool = True) -> None:
        if not bars:
            return
        await self.pipeline.process(
            bars, FeedSource.BINANCE, with_path_ticks=self.path_ticks, publish=publish
        )
        for b in bars:
            self.last_ms[(b.symbol, b.timeframe)] = max(
                self.last_ms.get((b.symbol, b.timeframe), 0), b.open_ms
            )


def _closed(bars: list[Bar], now_ms: int) -> list[Bar]:
    return [b for b in bars if b.close_ms <= now_ms]


def trade_tick(data: dict[str, Any]) -> TradeTick:
    tick_id = derive_id("binance-trade", data["s"], data["t"])
    return TradeTick(
        message_id=tick_id,
        correlation_id=tick_id,
        occurred_at=_at(data["T"]),
        symbol=data["s"],
        price=Decimal(data["p"]),
        quantity=Decimal(data["q"]),
        trade_id=str(data["t"]),
        source=FeedSource.BINANCE,
    )


def _at(ms: int) -> datetime:
    return ms_to_dt(int(ms))
