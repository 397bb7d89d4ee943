"""Composition root of the paper service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_paper.entrypoints.api import router
from robson_paper.entrypoints.consumers import consumer_specs
from robson_paper.settings import PaperSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: PaperSettings | None = None) -> Service:
    return Service(
        settings or PaperSettings(),
        MIGRATIONS,
        consumers=consumer_specs(),
        routers=[router],
    )
