"""Composition root of the decision service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_decision.entrypoints.api import router
from robson_decision.entrypoints.consumers import consumer_specs
from robson_decision.settings import DecisionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: DecisionSettings | None = None) -> Service:
    return Service(
        settings or DecisionSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
