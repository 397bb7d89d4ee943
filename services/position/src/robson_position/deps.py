"""What the position service's hooks and routes use, and the service typed by it."""

from __future__ import annotations

from dataclasses import dataclass

from robson_kit.service import Service

from robson_position.adapters.venues import Venues
from robson_position.handlers.runtime import Runtime


@dataclass(frozen=True)
class PositionDeps:
    runtime: Runtime
    venues: Venues


PositionService = Service[PositionDeps]
