"""Every service whose HTTP API the security tests cover. Add a service here (one line) and its
routes are checked for 401/403/404 and fuzzed with schemathesis like the others."""

from __future__ import annotations

import base64
import importlib
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})
"""Open by design on every service (no token)."""
OPEN_ROUTES = frozenset({("signal", "POST", "/signals")})
"""Routes that authenticate by other means (the webhook's per-trader secret). Adding an open
route to a service fails ``test_open_routes_are_exactly_the_declared_ones`` until listed here."""
FUZZ_MASTER_KEY = "k1:" + base64.b64encode(b"1" * 32).decode()


@dataclass(frozen=True)
class Covered:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    """Settings for a process under test (``ROBSON_<NAME>_…`` without the prefix)."""

    @property
    def prefix(self) -> str:
        return f"ROBSON_{self.name.upper()}_"

    @property
    def module(self) -> str:
        return f"robson_{self.name}"

    def app(self) -> FastAPI:
        """The service's app, built but not started: its route table."""
        return importlib.import_module(f"{self.module}.main").build_service().app(manage_lifecycle=False)


SERVICES: tuple[Covered, ...] = (
    Covered("signal", {"FEED": "none", "FEED_AUTOSTART": "false"}),
    Covered("decision"),
    Covered("entry_gate"),
    Covered("position", {"RESYNC_ON_START": "false"}),
    Covered("execution", {"MASTER_KEYS": FUZZ_MASTER_KEY}),
    Covered("paper"),
    Covered("notify"),
)
"""The dashboard is not here: its routes authenticate with its own session cookie (a token the
services verify on every call it forwards), so the kit's bearer check is off for them by design."""


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(path, route) of every API route as the app serves it (included routers flattened)."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path and ctx.path not in OPS_PATHS:
            found.append((ctx.path, route))
    return found


def route_table() -> list[tuple[Covered, str, str, APIRoute]]:
    """(service, method, path, route) for every API route of every covered service."""
    rows = []
    for svc in SERVICES:
        for path, route in api_routes(svc.app()):
            for method in sorted(route.methods):
                rows.append((svc, method, path, route))
    return rows
