"""What the dashboard's routes share, typed (no string-keyed state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from robson_dashboard.adapters.hub import Hub
from robson_dashboard.adapters.sessions import Sessions
from robson_dashboard.adapters.upstream import Upstreams
from robson_dashboard.settings import DashboardSettings


@dataclass
class Runtime:
    settings: DashboardSettings
    upstreams: Upstreams
    sessions: Sessions
    hub: Hub


def get_runtime(request: Request) -> Runtime:
    return request.app.state.service.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
