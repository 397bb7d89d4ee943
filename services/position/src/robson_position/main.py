"""Composition root of the position service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_position.adapters.repository import Positions
from robson_position.entrypoints.api import router
from robson_position.entrypoints.consumers import consumer_specs
from robson_position.entrypoints.reports import reports
from robson_position.handlers.runtime import Runtime
from robson_position.settings import PositionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def rebuild(service: Service) -> None:
    """Start-up: the mark book is rebuilt from the positions table. Venue events missed while
    down wait in the durable order-event consumer and are applied before anything else moves."""
    rt: Runtime = service.state["runtime"]
    async with service.uow() as uow:
        for position in await Positions(uow.session).active():
            rt.track(position)


def build_service(settings: PositionSettings | None = None) -> Service:
    settings = settings or PositionSettings()
    rt = Runtime()
    service = Service(settings, MIGRATIONS, consumers=consumer_specs(rt), routers=[router, reports],
                      on_start=[rebuild], clock=rt.clock)
    service.state["runtime"] = rt
    return service
