"""Composition root of the entry_gate service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_entry_gate.entrypoints.api import router
from robson_entry_gate.entrypoints.consumers import consumer_specs
from robson_entry_gate.settings import EntryGateSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: EntryGateSettings | None = None) -> Service:
    return Service(
        settings or EntryGateSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
