"""Composition root of the dashboard: a backend-for-frontend serving the web UI, proxying the
services' HTTP APIs with the signed-in user's token, and pushing live updates over SSE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from robson_kit import logs
from robson_kit.auth import authenticator_for, open_route
from robson_kit.service import Service

from robson_dashboard.adapters import token_status
from robson_dashboard.adapters.hub import Hub
from robson_dashboard.adapters.sessions import Sessions
from robson_dashboard.adapters.upstream import Upstreams
from robson_dashboard.assets import ensure_vendor
from robson_dashboard.entrypoints import actions, api, stream, web
from robson_dashboard.entrypoints.nostore import NoStoreApi
from robson_dashboard.runtime import Runtime
from robson_dashboard.settings import DashboardSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logs.get_logger(__name__)


def build_service(settings: DashboardSettings | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> DashboardService:
    """``transport``: where the services' HTTP calls go (tests pass a fake services' app)."""
    settings = settings or DashboardSettings()
    upstreams = Upstreams(settings.upstream_urls(), settings.upstream_timeout_seconds, transport)
    runtime = Runtime(settings=settings, upstreams=upstreams,
                      sessions=Sessions(settings.max_sessions, settings.session_hours),
                      hub=Hub(upstreams, settings.stream_queue, settings.max_stream_clients))

    async def build_assets(service: Service) -> None:
        """One-shot, in the background: readiness never waits on the npm registry."""
        if settings.fetch_assets:
            await ensure_vendor(settings.web_dir)

    async def watch_revocations(service: Service) -> None:
        """The kit's revocation watch, which the app's lifespan also starts (idempotent): no route
        of the dashboard takes a bearer token, so no request would start it."""
        authenticator_for(service).start(service)

    async def feed(service: Service) -> None:
        await runtime.hub.run(service.bus)

    async def guard(service: Service) -> None:
        auth = authenticator_for(service)
        await runtime.hub.guard(lambda token: token_status.refusal(auth, token))

    async def close(service: Service) -> None:
        await upstreams.close()

    routers = [api.router, actions.router, stream.router, web.router]
    for router in routers:  # the dashboard's own session authenticates (see entrypoints/auth.py)
        for route in router.routes:
            open_route(getattr(route, "endpoint", None) or route)
    return DashboardService(runtime, MIGRATIONS, routers=routers, on_start=[watch_revocations],
                            on_stop=[close], background=[build_assets, feed, guard])


class DashboardService(Service):
    """The kit's service with its runtime as a typed attribute."""

    def __init__(self, runtime: Runtime, migrations_dir: Path, **kwargs: Any) -> None:
        super().__init__(runtime.settings, migrations_dir, **kwargs)
        self.runtime = runtime

    def app(self, manage_lifecycle: bool = True) -> FastAPI:
        app = super().app(manage_lifecycle)
        app.add_middleware(NoStoreApi)
        return app
