"""Daily summaries: once an account's trading day has ended (its reset time, UTC), one notice
with its realized P&L, closes, entries and the risk still open."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from robson_kit import logs
from robson_kit.service import Service

from robson_notify.adapters import figures, store
from robson_notify.domain.summary import summary_notice, trading_day
from robson_notify.runtime import Runtime

log = logs.get_logger(__name__)


async def summarize_due(service: Service, runtime: Runtime) -> int:
    now = service.clock.now()
    done = 0
    async with service.uow() as uow:
        for account, day, written, later in await figures.unsummarized(uow.session):
            reset = runtime.config.reset_time(account)
            # a day is over once the account's events have moved past it (replays: event time)
            # or its reset has passed on the clock and its events have been quiet for a while
            quiet = (now - written).total_seconds() >= runtime.settings.summary_grace_seconds
            if not later and (day >= trading_day(now, reset) or not quiet):
                continue
            notice = summary_notice(await figures.figures(uow.session, account, day), reset)
            channels = runtime.config.channels_for(notice)
            if channels:
                await store.add_deliveries(uow.session, notice, channels, now)
            await figures.mark_summarized(uow.session, account, day)
            done += 1
        await figures.prune_reasons(uow.session, now - timedelta(days=7))
        await store.prune(uow.session, now - timedelta(days=runtime.settings.keep_days))
    if done:
        runtime.wake()
        log.info("notify.daily_summaries", count=done)
    return done


async def summary_loop(service: Service, runtime: Runtime) -> None:
    while True:
        await summarize_due(service, runtime)
        await asyncio.sleep(runtime.settings.summary_poll_seconds)
