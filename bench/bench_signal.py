"""signal: replay with 3 strategies over 50 symbols through strategy evaluation in-process
(CSV parse → bars → every bound strategy → SignalDetected), and the JetStream publish rate
of the full pipeline (path ticks + candle + signals) on embedded NATS + Postgres."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from robson_contracts import FeedSource, Timeframe
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import reset_streams, unique_schema
from robson_signal.adapters.bar_feeds import synthetic_bars
from robson_signal.domain.bindings import TraderBinding
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.klines_csv import format_archive_row, parse_klines
from robson_signal.domain.registry import StrategyRegistry

from bench.common import Metric, at_least, info, median

SYMBOLS = [f"SYM{i:02d}USDT" for i in range(50)]
CANDLES_PER_SYMBOL = 1000
STRATEGIES = ("ema_cross", "donchian_breakout", "rsi_mean_reversion")


def engine() -> StrategyEngine:
    e = StrategyEngine(StrategyRegistry())
    for name in STRATEGIES:
        e.bind(
            TraderBinding(
                trader_id=f"t-{name[:3]}",
                account_id="bench",
                strategy=name,
                symbols=tuple(SYMBOLS),
                timeframes=(Timeframe.M1,),
            )
        )
    return e


def rows_by_symbol() -> dict[str, list[str]]:
    from datetime import UTC, datetime

    start = datetime(2024, 1, 1, tzinfo=UTC)
    out: dict[str, list[str]] = {s: [] for s in SYMBOLS}
    for bar in synthetic_bars(11, SYMBOLS, ["1m"], start, CANDLES_PER_SYMBOL):
        out[bar.symbol].append(format_archive_row(bar))
    return out


def in_process_rate(rows: dict[str, list[str]]) -> tuple[float, int]:
    e = engine()
    began = time.perf_counter()
    streams = [parse_klines(lines, symbol, Timeframe.M1) for symbol, lines in rows.items()]
    import heapq

    candles = signals = 0
    for bar in heapq.merge(*streams, key=lambda b: (b.close_ms, b.symbol)):
        signals += len(e.on_bar(bar))
        candles += 1
    return candles / (time.perf_counter() - began), signals


async def publish_rate() -> tuple[float, float]:
    from robson_signal.main import build_service
    from robson_signal.settings import SignalSettings

    with tempfile.TemporaryDirectory(prefix="robson-bench-signal-") as tmp:
        infra = Infrastructure(Path(tmp)).start()
        try:
            bus = await Bus(infra.nats_url).connect()
            await reset_streams(bus)
            await bus.close()
            service = build_service(
                SignalSettings(
                    nats_url=infra.nats_url,
                    database_url=infra.database_url,
                    db_schema=unique_schema("bench"),
                )
            )
            await service.start()
            try:
                e = service.deps.strategy_engine
                for tid, b in engine().bindings.items():
                    e.bind(b.model_copy(update={"symbols": tuple(SYMBOLS[:10])}))
                    del tid
                from datetime import UTC, datetime

                bars = list(
                    synthetic_bars(3, SYMBOLS[:10], ["1m"], datetime(2024, 1, 1, tzinfo=UTC), 300)
                )
                began = time.perf_counter()
                for i in range(0, len(bars), 200):
                    await service.deps.pipeline.process(bars[i : i + 200], FeedSource.REPLAY)
                elapsed = time.perf_counter() - began
                status = service.deps.feed_status
                messages = status.candles * 5 + status.signals
                return messages / elapsed, status.candles / elapsed
            finally:
                await service.stop()
        finally:
            infra.stop()


def run() -> list[Metric]:
    rows = rows_by_symbol()
    rates, signals = [], 0
    for _ in range(3):
        rate, signals = in_process_rate(rows)
        rates.append(rate)
    metrics = [
        at_least(
            "signal.replay_candles_per_s",
            median(rates),
            "candles/s",
            20_000,
            note=f"3 strategies x 50 symbols, {len(SYMBOLS) * CANDLES_PER_SYMBOL} candles, "
            f"CSV parse + evaluation + SignalDetected ({signals} signals); median of 3",
        ),
    ]
    msgs, candles = asyncio.run(publish_rate())
    metrics += [
        info(
            "signal.jetstream_publish_msgs_per_s",
            msgs,
            "msg/s",
            note="ticks+candle+signals awaited on JetStream, candles+signals stored in Postgres",
        ),
        info(
            "signal.pipeline_candles_per_s",
            candles,
            "candles/s",
            note="end-to-end with NATS + Postgres",
        ),
    ]
    return metrics
