"""Composition root of the execution service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_execution.entrypoints.api import router
from robson_execution.entrypoints.consumers import consumer_specs
from robson_execution.settings import ExecutionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: ExecutionSettings | None = None) -> Service:
    return Service(
        settings or ExecutionSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
