"""Read-only HTTP: performance, trade journal, CSV export, live SSE stream of position updates."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from robson_kit.auth import Principal, ReadPrincipal
from robson_kit.service import Service

from robson_position.adapters.repository import Audit, Positions
from robson_position.domain.performance import Trade, performance
from robson_position.domain.position import Position
from robson_position.entrypoints.api import SvcDep, _runtime
from robson_position.views import position_view

reports = APIRouter(tags=["position reports"])

CSV_COLUMNS = ["position_id", "account_id", "trader_id", "symbol", "side", "status", "quantity",
               "entry_price", "exit_price", "fees", "realized_pnl", "r_multiple", "mfe", "mae",
               "opened_at", "closed_at", "holding_seconds", "exit_reason"]


async def _closed(service: Service, who: Principal, account_id: str | None,
                  trader_id: str | None) -> list[Position]:
    async with service.uow() as uow:
        found = await Positions(uow.session).query(account_id=who.query_account(account_id),
                                                   trader_id=trader_id, status="CLOSED", limit=100000)
    return [p for p in found if who.can_access(p.s.account_id)]


Filters = Annotated[dict[str, str | None], Depends(lambda account_id=None, trader_id=None:
                                                   {"account_id": account_id, "trader_id": trader_id})]


@reports.get("/performance")
async def get_performance(service: SvcDep, filters: Filters, who: ReadPrincipal,
                          start_equity: Decimal = Decimal(10000)) -> dict[str, Any]:
    closed = await _closed(service, who, filters["account_id"], filters["trader_id"])
    trades = [Trade(p.s.realized_pnl, p.r_multiple, p.s.opened_at, p.s.closed_at)
              for p in closed if p.s.opened_at and p.s.closed_at]
    perf = performance(trades, start_equity)
    return {**filters, **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(perf).items()}}


@reports.get("/journal")
async def get_journal(service: SvcDep, filters: Filters, who: ReadPrincipal) -> list[dict[str, Any]]:
    rt = _runtime(service)
    closed = await _closed(service, who, filters["account_id"], filters["trader_id"])
    out = []
    async with service.uow() as uow:
        for p in closed:
            view = position_view(p, rt.book, rt.clock.now())
            history = await Audit(uow.session).history(p.s.position_id)
            out.append({**view, "entry_reason": p.s.entry_reasoning, "exit_note": p.s.exit_note,
                        "modifications": json.loads(json.dumps(history, default=str))})
    return out


@reports.get("/export.csv")
async def export_csv(service: SvcDep, filters: Filters, who: ReadPrincipal) -> Response:
    rt = _runtime(service)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for p in await _closed(service, who, filters["account_id"], filters["trader_id"]):
        writer.writerow(position_view(p, rt.book, rt.clock.now()))
    return Response(buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": "attachment; filename=positions.csv"})


@reports.get("/stream")
async def stream(service: SvcDep, request: Request, who: ReadPrincipal) -> StreamingResponse:
    """Server-sent events: one ``position`` event per committed change."""
    hub = _runtime(service).hub
    queue = hub.subscribe()

    async def events() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    snapshot = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if who.can_access(snapshot.get("account_id")):
                    yield f"event: position\ndata: {json.dumps(snapshot)}\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream")
