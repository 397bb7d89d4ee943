"""HTTP API of signal: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from robson_contracts import FeedSource, SignalDirection, Timeframe, encode
from robson_contracts.types import Symbol
from robson_kit.app import get_deps, get_service
from robson_kit.auth import AccountHidden, AdminPrincipal, ReadPrincipal, open_route, rate_limit

from robson_signal.adapters import repository as repo
from robson_signal.deps import SignalDeps, SignalService
from robson_signal.domain.bars import dt_to_ms
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.events import candle_event
from robson_signal.domain.feedstatus import FeedStatus
from robson_signal.handlers.bindings import BindTrader, bind_trader
from robson_signal.handlers.webhook import ExternalSignal, WebhookRejected, accept_external_signal

router = APIRouter(tags=["signal"])


ServiceDep = Annotated[SignalService, Depends(get_service)]
DepsDep = Annotated[SignalDeps, Depends(get_deps)]


def _engine(deps: DepsDep) -> StrategyEngine:
    return deps.strategy_engine


def _status(deps: DepsDep) -> FeedStatus:
    return deps.feed_status


EngineDep = Annotated[StrategyEngine, Depends(_engine)]
StatusDep = Annotated[FeedStatus, Depends(_status)]


@router.get("/feed")
async def feed_status(status: StatusDep, who: ReadPrincipal) -> dict[str, Any]:
    return status.as_json()


@router.post("/feed/start", status_code=202)
async def start_feed(deps: DepsDep, who: AdminPrincipal) -> dict[str, str]:
    deps.feed_start.set()
    return {"status": "started"}


@router.get("/strategies")
async def list_strategies(engine: EngineDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    return engine.registry.describe()


@router.put("/traders/{trader_id}")
async def put_trader(
    trader_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    body: BindTrader,
    service: ServiceDep,
    engine: EngineDep,
    who: AdminPrincipal,
) -> dict[str, Any]:
    existing = engine.bindings.get(trader_id)
    if not who.can_access(body.account_id):
        raise AccountHidden(body.account_id, "account")
    if existing is not None and not who.can_access(existing.account_id):
        # moving a trader between accounts takes access to both; say nothing of the other
        raise HTTPException(404, f"no trader {trader_id!r} in account {body.account_id!r}")
    try:
        async with service.uow() as uow:
            binding = await bind_trader(trader_id, body, engine, uow)
    except ValidationError:
        raise
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, str(exc)) from None
    return binding.public()


@router.get("/traders")
async def list_traders(engine: EngineDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    return [b.public() for _, b in sorted(engine.bindings.items()) if who.can_access(b.account_id)]


@router.get("/traders/{trader_id}")
async def get_trader(trader_id: str, engine: EngineDep, who: ReadPrincipal) -> dict[str, Any]:
    binding = engine.bindings.get(trader_id)
    if binding is None or not who.can_access(binding.account_id):
        raise HTTPException(404, f"trader {trader_id!r} is not bound")
    return binding.public()


MAX_WEBHOOK_BYTES = 64 * 1024
"""An alert is a few hundred bytes; this open route reads no more than this (413)."""
NOT_FOUND = "UNKNOWN_TRADER_OR_BAD_SECRET: no such trader, or the secret does not match"
"""One answer for an unknown trader, a wrong secret and a disabled webhook: nothing to probe."""


@router.post("/signals")
@open_route
async def post_signal(
    request: Request,
    service: ServiceDep,
    engine: EngineDep,
    x_robson_secret: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise HTTPException(413, f"body is larger than {MAX_WEBHOOK_BYTES} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise HTTPException(413, f"body is larger than {MAX_WEBHOOK_BYTES} bytes")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    data = {
        k: (str(v) if isinstance(v, (int, Decimal)) and k in ("price", "strength") else v)
        for k, v in data.items()
    }
    trader_id = data.get("trader_id")
    rate_limit(request, "webhook", str(trader_id)[:64], service.settings.auth_write_rate_per_minute)
    payload = ExternalSignal.model_validate(data)
    try:
        async with service.uow() as uow:
            signal, new = await accept_external_signal(payload, x_robson_secret, engine, uow)
    except WebhookRejected as exc:
        if exc.reason_code in ("UNKNOWN_TRADER", "BAD_SECRET", "WEBHOOK_DISABLED"):
            raise HTTPException(404, NOT_FOUND) from None
        raise HTTPException(exc.status, f"{exc.reason_code}: {exc.reason}") from None
    body = {"status": "accepted" if new else "duplicate", "signal_id": signal.signal_id}
    return JSONResponse(body, status_code=202 if new else 200)


@router.get("/signals")
async def get_signals(
    service: ServiceDep,
    who: ReadPrincipal,
    trader_id: str | None = None,
    account_id: str | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    timeframe: Timeframe | None = None,
    direction: SignalDirection | None = None,
    origin: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    filters = {
        "trader_id": trader_id,
        "account_id": who.query_account(account_id),
        "symbol": symbol,
        "strategy": strategy,
        "timeframe": timeframe.value if timeframe else None,
        "direction": direction.value if direction else None,
        "origin": origin,
    }
    async with service.sessions() as session:
        return who.visible(await repo.query_signals(session, filters, since, until, limit))


@router.get("/candles")
async def get_candles(
    service: ServiceDep,
    who: ReadPrincipal,
    symbol: Symbol,
    timeframe: Timeframe,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Closed candles with open_time in [start, end), oldest first, as Candle messages."""
    async with service.sessions() as session:
        rows = await repo.load_candles(
            session,
            symbol,
            timeframe,
            dt_to_ms(start) if start else None,
            dt_to_ms(end) if end else None,
            limit,
        )
    return [json.loads(encode(candle_event(bar, FeedSource(source)))) for bar, source in rows]


@router.get("/market-context")
async def get_market_context(
    service: ServiceDep,
    who: ReadPrincipal,
    symbol: Symbol,
    metric: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    async with service.sessions() as session:
        return await repo.query_context(session, symbol, metric, limit)
