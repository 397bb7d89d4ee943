"""FastAPI app factory: health, readiness, metrics, and clear 4xx errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from robson_kit.auth.docs import install_docs
from robson_kit.auth.guard import Authenticated, authenticator_for, is_open
from robson_kit.auth.scopes import AccountHidden
from robson_kit.errors import ConflictError, PermanentError
from robson_kit.outage import INFRASTRUCTURE_ERRORS, is_infrastructure_error

if TYPE_CHECKING:
    from robson_kit.service import Service


def _not_storable() -> JSONResponse:
    return JSONResponse({"detail": [{"field": "body", "type": "value_not_storable", "message":
                        "a value cannot be stored (a NUL character, or a number out of range)"}]},
                        status_code=422)


def create_app(
    service: Service,
    routers: list[APIRouter] | None = None,
    title: str | None = None,
    manage_lifecycle: bool = True,
) -> FastAPI:
    """``manage_lifecycle=False`` leaves start/stop to the caller (tests, embedding). Every
    route of ``routers`` requires a bearer token (see ``robson_kit.auth``); only /healthz,
    /readyz, /metrics and the docs are open."""
    auth = authenticator_for(service)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await service.start()
            auth.start(service)
        try:
            yield
        finally:
            if manage_lifecycle:
                await service.stop()

    app = FastAPI(title=title or f"robson {service.name}", lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.service = service

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Alive, even while waiting for the service lock (only not ready); 503 once the process
        halted (``robson_kit.singleton``): restarting it is the way on."""
        halted = getattr(service, "halted", None)
        if halted:
            return JSONResponse({"status": "halted", "service": service.name, "reason": halted},
                                status_code=503)
        return JSONResponse({"status": "ok", "service": service.name})

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks = await service.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ValidationError)
    async def _invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": _errors(exc.errors())}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _errors(exc.errors())}, status_code=422)

    @app.exception_handler(PermanentError)
    async def _refused(_: Request, exc: PermanentError) -> JSONResponse:
        """A command that can never succeed as sent (e.g. an event too large for the bus)."""
        return JSONResponse({"detail": exc.reason, "reason_code": exc.reason_code}, status_code=422)

    for infrastructure in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(infrastructure, _unavailable)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "conflict"}, status_code=409)

    @app.exception_handler(DBAPIError)
    async def _unstorable(request: Request, exc: DBAPIError) -> JSONResponse:
        """A value Postgres cannot hold (a NUL character, a number out of range: SQLSTATE class
        22) came from the request: a 422, not a 500. Anything else is a server fault."""
        if is_infrastructure_error(exc):
            return await _unavailable(request, exc)
        code = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        if not code.startswith("22"):
            raise exc
        return _not_storable()

    @app.exception_handler(asyncpg.exceptions.DataError)
    async def _unstorable_on_the_driver(_: Request, exc: asyncpg.exceptions.DataError) -> JSONResponse:
        """The same, from a statement sent on the transaction's asyncpg connection (the hot
        paths: ``robson_kit.uow.driver_connection``), which SQLAlchemy does not wrap."""
        return _not_storable()

    @app.exception_handler(AccountHidden)
    async def _hidden(_: Request, exc: AccountHidden) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NotServing)
    async def _not_serving(_: Request, exc: NotServing) -> JSONResponse:
        return JSONResponse({"detail": f"this instance of {service.name} is not serving: "
                                       f"{exc.reason}; retry shortly"},
                            status_code=503, headers={"Retry-After": "1"})

    for router in routers or []:
        opened = [r for r in router.routes if isinstance(r, APIRoute) and is_open(r)]
        guarded = [r for r in router.routes if not (isinstance(r, APIRoute) and is_open(r))]
        app.include_router(APIRouter(routes=guarded), dependencies=[Authenticated, Serving])
        app.include_router(APIRouter(routes=opened), dependencies=[Serving])
    install_docs(app)
    return app


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The database (or NATS) is down: 503, so a client knows to retry (a 500 says "bug")."""
    if not is_infrastructure_error(exc):
        raise exc
    return JSONResponse({"detail": "a dependency is unavailable; retry shortly",
                         "error": type(exc).__name__}, status_code=503, headers={"Retry-After": "5"})


class NotServing(Exception):
    """A route reached while this process does not hold its service's lock."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _serving(request: Request) -> None:
    """A service's own routes act only while the process holds its service lock, as its
    consumers and loops do (``robson_kit.singleton``). An instance waiting for the lock has
    loaded no state (it would answer from empty memory) and a write there would bypass the
    holder's memory: every route is refused, and so until its start-up under the lock has
    loaded that state (``Service.activated``; the lock is taken first). One that held the lock
    and lost it for a moment (a database outage or failover) keeps answering reads from the
    state it has; its writes wait. /readyz already keeps an orchestrator's traffic away; this keeps everyone else's.
    A service never started (its routes mounted alone, as some tests do) is not fenced: the
    server answers only once ``start`` has returned, holding the lock or waiting for it."""
    service = request.app.state.service
    fence = service.fence
    if not service.started:
        return
    # the lock taken is not enough: start-up (migrations, state loaded) runs after it
    loaded = service.activated and not service.halted
    if fence.held and loaded:
        return
    if loaded and request.method in READS:
        return
    raise NotServing(fence.reason if not fence.held else "starting: its state is still loading")


Serving = Depends(_serving)


def _errors(errors: Any) -> list[dict[str, Any]]:
    """Field-level messages without echoing objects that JSON cannot carry."""
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]


def get_service(request: Request) -> Service:
    return request.app.state.service


def get_deps(request: Request) -> Any:
    """The service's typed deps, for a service's own alias: ``Annotated[MyDeps, Depends(get_deps)]``."""
    return request.app.state.service.deps


ServiceDep = Annotated["Service", Depends(get_service)]
