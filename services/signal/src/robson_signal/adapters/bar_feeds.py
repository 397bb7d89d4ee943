"""Replay and synthetic feeds: an iterator of bars, paced by event time, into the pipeline."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from robson_contracts import FeedSource, Timeframe
from robson_kit.logs import get_logger

from robson_signal.adapters.activity import Activity
from robson_signal.adapters.files import read_merged
from robson_signal.adapters.pipeline import Pipeline
from robson_signal.adapters.quiescence import Quiescence
from robson_signal.domain.bars import Bar, dt_to_ms
from robson_signal.domain.klines_csv import CsvIssue
from robson_signal.domain.synthetic import SyntheticMarket

log = get_logger(__name__)
MAX_BATCH = 200


async def run_bars(
    bars: Iterator[Bar],
    pipeline: Pipeline,
    source: FeedSource,
    speed: float | None,
    lockstep: Quiescence | None = None,
    activity: Activity | None = None,
) -> None:
    """``speed`` None: as fast as the pipeline drains; k: event time runs k× real time.
    ``lockstep``: each event-time step waits until the platform is quiet (speed is ignored);
    with ``activity``, close times that nothing can react to are not waited for."""
    status = pipeline.status
    status.state = "running"
    if lockstep is not None:
        await _run_lockstep(bars, pipeline, source, lockstep, activity)
        return
    first_event: int | None = None
    wall_start = time.monotonic()
    while True:
        batch = list(itertools.islice(bars, 1 if speed else MAX_BATCH))
        if not batch:
            break
        if speed:
            bar = batch[0]
            first_event = first_event if first_event is not None else bar.close_ms
            delay = wall_start + (bar.close_ms - first_event) / 1000 / speed - time.monotonic()
            if speed == 1 and source is FeedSource.SYNTHETIC:
                # Real time: a candle goes out when the wall clock reaches its close (the
                # history before now at once), so event time is wall time, as on Binance.
                delay = bar.close_ms / 1000 - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await pipeline.process(batch, source)
        await asyncio.sleep(0)  # let API requests in between batches
    status.state, status.finished = "finished", True
    log.info("feed.finished", mode=status.mode, candles=status.candles, skipped=status.skipped_rows)


async def _run_lockstep(
    bars: Iterator[Bar],
    pipeline: Pipeline,
    source: FeedSource,
    quiet: Quiescence,
    activity: Activity | None,
) -> None:
    status = pipeline.status
    await quiet.wait()  # start from a drained platform
    idle = activity.idle if activity is not None else None
    tickless = activity.tickless if activity is not None else None
    pipeline.track_published = True
    pipeline.take_published()

    async def settle() -> None:
        await quiet.wait(pipeline.take_published())

    for _, group in itertools.groupby(bars, key=lambda b: b.close_ms):
        await pipeline.process_in_steps(list(group), source, settle, idle, tickless)
    await pipeline.finish_lockstep(settle)
    status.state, status.finished = "finished", True
    log.info(
        "feed.finished",
        mode=status.mode,
        candles=status.candles,
        lockstep_waits=quiet.waits,
        lockstep_readings=quiet.readings,
        lockstep_lagging=quiet.lagging,
        streamed=pipeline.streamed,
        tickless=pipeline.tickless_steps,
        seen=activity.by_kind if activity is not None else None,
        lockstep_wait_seconds=round(quiet.waited_seconds, 1),
    )


def replay_bars(path: str, strict: bool, pipeline: Pipeline) -> Iterator[Bar]:
    def on_issue(issue: CsvIssue) -> None:
        log.warning("replay.row_skipped", file=issue.source, line=issue.line, reason=issue.reason)
        pipeline.status.issue(str(issue))

    return read_merged(Path(path), strict=strict, on_issue=on_issue)


def synthetic_bars(
    seed: int, symbols: list[str], timeframes: list[str], start: datetime, count: int
) -> Iterator[Bar]:
    import heapq

    start_ms = dt_to_ms(start)
    markets = [
        SyntheticMarket(seed, s, Timeframe(tf), start_ms) for s in symbols for tf in timeframes
    ]
    streams = [m.bars(count or None) for m in markets]
    return heapq.merge(*streams, key=lambda b: (b.close_ms, b.symbol, b.timeframe.seconds))
