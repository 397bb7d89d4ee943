"""Composition root of the notify service."""

from __future__ import annotations

from pathlib import Path

from robson_kit import logs
from robson_kit.service import Service

from robson_notify.deps import NotifyService
from robson_notify.entrypoints.api import router
from robson_notify.entrypoints.consumers import consumer_specs
from robson_notify.handlers import admin
from robson_notify.handlers.summary import summary_loop
from robson_notify.runtime import Runtime
from robson_notify.sender import Sender
from robson_notify.settings import NotifySettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logs.get_logger(__name__)


def build_service(settings: NotifySettings | None = None) -> NotifyService:
    settings = settings or NotifySettings()
    runtime = Runtime(settings)

    async def load_config(service: Service) -> None:
        await admin.load(service, runtime)
        log.info("notify.loaded", channels=sorted(runtime.channels), routes=len(runtime.config.routes))

    async def sender(service: Service) -> None:
        await Sender(runtime, service.uow, service.clock, settings.retry_policy()).run()

    async def daily_summaries(service: Service) -> None:
        await summary_loop(service, runtime)

    async def close(service: Service) -> None:
        await runtime.close()

    return Service(settings, MIGRATIONS, consumers=consumer_specs(runtime), routers=[router],
                   on_start=[load_config], on_stop=[close],
                   background=[sender, daily_summaries], deps=runtime)
