"""Composition root of the position service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service
from robson_kit.uow import lift_idle_limit

from robson_position.adapters.market_time import newest_market_time
from robson_position.adapters.repository import Positions
from robson_position.adapters.venues import Venues
from robson_position.deps import PositionDeps, PositionService
from robson_position.entrypoints.api import router
from robson_position.entrypoints.consumers import consumer_specs
from robson_position.entrypoints.reports import reports
from robson_position.entrypoints.resync_api import resync_router
from robson_position.handlers.resync import resync_on_start
from robson_position.handlers.runtime import Runtime
from robson_position.handlers.watchdog import watchdog_loop
from robson_position.settings import PositionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def rebuild(service: PositionService) -> None:
    """Start-up: the mark book is rebuilt from the positions table, the venues' symbol rules
    from theirs. Venue events missed while down wait in the durable order-event consumer; what
    the bus lost, the re-sync with the venue (``resync_on_start``) catches up."""
    rt = service.deps.runtime
    async with service.uow() as uow:
        await lift_idle_limit(uow.session)
        await rt.venue_rules.load(uow.session)  # before any order is sized
        for position in await Positions(uow.session).active():
            rt.track(position)
            if position.s.last_candle_at is not None:  # what re-sync stamps before a new candle
                rt.market_clock.observe(position.s.last_candle_at)
    newest = await newest_market_time(service.bus)
    if newest is not None:  # so approvals that waited out the downtime are judged as of now
        rt.market_clock.observe(newest)


async def close_venues(service: PositionService) -> None:
    await service.deps.venues.close()


def build_service(settings: PositionSettings | None = None,
                  venues: Venues | None = None) -> PositionService:
    settings = settings or PositionSettings()
    rt = Runtime(decision_wait_seconds=settings.decision_wait_seconds)
    background = [resync_on_start]
    if settings.stop_watchdog_interval_seconds > 0:
        background.append(watchdog_loop(settings.stop_watchdog_interval_seconds,
                                        settings.stop_watchdog_grace_seconds))
    venues = venues or Venues.from_urls(
        settings.paper_url, settings.execution_url, settings.resync_timeout_seconds,
        settings.service_token.get_secret_value())
    return Service(settings, MIGRATIONS, consumers=consumer_specs(rt),
                   routers=[router, reports, resync_router], on_start=[rebuild],
                   on_stop=[close_venues], background=background, clock=rt.clock,
                   deps=PositionDeps(rt, venues))
