"""Composition root of the paper service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from robson_contracts import subjects as s
from robson_kit import logs
from robson_kit.service import Service
from robson_kit.uow import lift_idle_limit

from robson_paper.deps import PaperService
from robson_paper.entrypoints.api import router
from robson_paper.entrypoints.consumers import consumer_specs
from robson_paper.handlers.venue_rules import tell_rules
from robson_paper.runtime import Runtime
from robson_paper.settings import PaperSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logs.get_logger(__name__)


def build_service(settings: PaperSettings | None = None) -> PaperService:
    settings = settings or PaperSettings()
    runtime = Runtime(settings.engine_config(), settings.symbol_rules(),
                      settings.turn_timeout_seconds,
                      timedelta(seconds=settings.market_write_seconds))

    async def load_book(service: Service) -> None:
        async with service.uow() as uow:
            await lift_idle_limit(uow.session)
            ex = await runtime.load(uow)
        backlog = await _market_backlog(service)
        log.info("paper.loaded", accounts=len(ex.accounts), resting_orders=len(ex.orders),
                 symbols=len(ex.markets), market_backlog=backlog)

    async def tell_symbol_rules(service: Service) -> None:
        """One-shot, supervised (retried while the bus fails): the symbols' rules, if changed."""
        sent = await tell_rules(service.bus, runtime.rules, service.clock.now())
        log.info("paper.rules_told", symbols=len(runtime.rules), changed=sent)

    return Service(settings, MIGRATIONS, consumers=consumer_specs(runtime), routers=[router],
                   on_start=[load_book], background=[tell_symbol_rules], deps=runtime)


async def _market_backlog(service: Service) -> int | None:
    """Market messages published while paper was down (replayed by the durable consumer)."""
    try:
        info = await service.bus.js.consumer_info(s.MARKET.name, "paper_market")
    except Exception:
        return None
    return info.num_pending
