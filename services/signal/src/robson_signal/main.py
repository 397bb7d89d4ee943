"""Composition root of the signal service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_signal.entrypoints.api import router
from robson_signal.entrypoints.consumers import consumer_specs
from robson_signal.settings import SignalSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: SignalSettings | None = None) -> Service:
    return Service(
        settings or SignalSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
