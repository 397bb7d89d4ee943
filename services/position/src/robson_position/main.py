"""Composition root of the position service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_position.entrypoints.api import router
from robson_position.entrypoints.consumers import consumer_specs
from robson_position.settings import PositionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: PositionSettings | None = None) -> Service:
    return Service(
        settings or PositionSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
