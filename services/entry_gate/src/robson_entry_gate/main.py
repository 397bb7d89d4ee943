"""Composition root of the entry_gate service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.clock import Clock
from robson_kit.service import Service
from robson_kit.uow import lift_idle_limit

from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.entrypoints.api import router
from robson_entry_gate.entrypoints.consumers import consumer_specs
from robson_entry_gate.handlers.clock import limits_loop
from robson_entry_gate.handlers.deps import GateDeps
from robson_entry_gate.settings import EntryGateSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: EntryGateSettings | None = None,
                  clock: Clock | None = None) -> EntryGateService:
    deps = GateDeps()
    settings = settings or EntryGateSettings()

    async def load_projections(service: Service) -> None:
        async with service.uow() as uow:
            await lift_idle_limit(uow.session)
            await deps.load(uow)

    return Service(
        settings,
        MIGRATIONS,
        consumers=consumer_specs(deps),
        routers=[router],
        on_start=[load_projections],
        background=[limits_loop(deps, settings.limits_interval_seconds)],
        clock=clock,
        deps=deps,
    )
