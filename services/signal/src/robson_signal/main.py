"""Composition root of the signal service."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from robson_contracts import FeedSource
from robson_kit.logs import get_logger
from robson_kit.service import Service

from robson_signal.adapters import repository as repo
from robson_signal.adapters.activity import Activity
from robson_signal.adapters.bar_feeds import replay_bars, run_bars, synthetic_bars
from robson_signal.adapters.gate_watch import GateWatch
from robson_signal.adapters.pipeline import Pipeline, ResumableBars
from robson_signal.adapters.quiescence import Quiescence
from robson_signal.deps import FeedRun, SignalDeps, SignalService
from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.feedstatus import FeedStatus
from robson_signal.domain.registry import StrategyRegistry
from robson_signal.entrypoints.api import router
from robson_signal.entrypoints.consumers import consumer_specs
from robson_signal.settings import FeedMode, SignalSettings, speed_factor

MIGRATIONS = Path(__file__).parent / "migrations"
WARM_BATCH = 200
log = get_logger(__name__)


def build_service(settings: SignalSettings | None = None) -> SignalService:
    settings = settings or SignalSettings()
    service: SignalService = Service(
        settings,
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
        on_start=[load_bindings],
        background=[run_feed, run_context],
    )
    registry = StrategyRegistry()
    for plugin in settings.plugin_list:
        registry.load(plugin)
    engine = StrategyEngine(registry)
    status = FeedStatus(settings.feed.value, service.clock)
    feed_start = asyncio.Event()
    if settings.feed_autostart:
        feed_start.set()
    # Set here, not by an on_start hook: the pipeline needs the service's bus, sessions and
    # clock, and routes and hooks find the deps from the moment the service exists.
    service.deps = SignalDeps(
        strategy_engine=engine,
        feed_status=status,
        pipeline=Pipeline(service.bus, service.sessions, engine, status, settings.publish_window),
        feed_start=feed_start,
        feed_run=FeedRun(),
    )
    return service


async def load_bindings(service: SignalService) -> None:
    async with service.sessions() as session:
        for binding in await repo.load_bindings(session):
            service.deps.strategy_engine.bind(binding)


def _bars(settings: SignalSettings, pipeline: Pipeline) -> Iterator[Bar]:
    if settings.feed is FeedMode.REPLAY:
        return replay_bars(settings.replay_path, settings.replay_strict, pipeline)
    start = datetime.fromisoformat(settings.synthetic_start.replace("Z", "+00:00"))
    return synthetic_bars(
        settings.synthetic_seed,
        settings.symbol_list,
        settings.timeframe_list,
        start,
        settings.synthetic_candles,
    )


async def run_feed(service: SignalService) -> None:
    """Supervised: an error (a step that kept failing) leaves the feed ``retrying`` with the
    error and raises, so the kit restarts it with backoff (and ``/readyz`` names it while it
    keeps failing); the restart finishes the interrupted step and goes on from there."""
    settings: SignalSettings = service.settings  # type: ignore[assignment]
    deps = service.deps
    status, pipeline, run = deps.feed_status, deps.pipeline, deps.feed_run
    if settings.feed is FeedMode.NONE:
        return
    if not run.started:
        status.state = "waiting"
        await deps.feed_start.wait()
        run.started = True
    lockstep = (
        Quiescence(service.bus, settings.lockstep_quiet_ms / 1000) if settings.lockstep else None
    )
    if lockstep is not None and settings.lockstep_skip_idle and run.activity is None:
        watch = GateWatch(settings.gate_url, settings.service_token.get_secret_value()) \
            if settings.gate_url else None
        run.activity = Activity(service.bus, known=not run.warmed, watch=watch)
        await run.activity.start()
    try:
        await pipeline.resume()
        if settings.feed is FeedMode.BINANCE:
            from robson_signal.adapters.binance_live import LiveFeed

            await LiveFeed(settings, pipeline, service.clock, service.sessions).run()
            return
        source = FeedSource.REPLAY if settings.feed is FeedMode.REPLAY else FeedSource.SYNTHETIC
        if run.bars is None:
            run.bars = ResumableBars(_bars(settings, pipeline), pipeline)
        if not run.warmed:
            resumed = await _warm_from_store(service, run.bars, source)
            run.warmed = True
            if resumed and run.activity is not None:
                run.activity.known = False  # what a previous life left open is unknown

        speed = settings.replay_speed if settings.feed is FeedMode.REPLAY else settings.synthetic_speed
        await run_bars(run.bars.rewind(), pipeline, source, speed_factor(speed), lockstep,
                       run.activity)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        status.state, status.error = "retrying", f"{type(exc).__name__}: {exc}"[:300]
        log.error("feed.failed", error=status.error)
        raise


async def _warm_from_store(
    service: SignalService, bars: ResumableBars, source: FeedSource
) -> bool:
    """After a restart, the bars a previous life already published and stored feed the
    strategies silently (published again they would change nothing: their ids are derived);
    the feed goes on from the first bar not stored."""
    pipeline = service.deps.pipeline
    stored: dict[tuple[str, str], int | None] = {}
    warm: list[Bar] = []
    for bar in bars.rewind():
        key = (bar.symbol, bar.timeframe.value)
        if key not in stored:
            async with service.sessions() as session:
                stored[key] = await repo.last_bar_ms(session, bar.symbol, bar.timeframe)
        last = stored[key]
        if last is None or bar.open_ms > last:
            break  # handed out but not accepted: the feed's rewind starts with it
        warm.append(bar)
        if len(warm) >= WARM_BATCH:
            await pipeline.process(warm, source, publish=False)
            warm = []
    if warm:
        await pipeline.process(warm, source, publish=False)
    if stored and any(v is not None for v in stored.values()):
        log.info("feed.resumed", candles=pipeline.status.candles)
        return True
    return False


async def run_context(service: SignalService) -> None:
    settings: SignalSettings = service.settings  # type: ignore[assignment]
    if not settings.context_symbol_list:
        return
    from robson_signal.adapters.binance_context import ContextPoller

    await ContextPoller(
        settings, service.deps.pipeline, service.sessions, service.deps.feed_status
    ).run()
