"""HTTP API of paper: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from robson_contracts.types import Identifier, NonNegativeDec
from robson_kit.app import get_service
from robson_kit.auth import AdminPrincipal, ReadPrincipal
from robson_kit.service import Service

from robson_paper.adapters import queries
from robson_paper.deps import PaperService
from robson_paper.handlers import accounts as account_cmds
from robson_paper.runtime import Runtime

router = APIRouter(tags=["paper"])
STATUS_PATTERN = "^(NEW|PARTIALLY_FILLED|FILLED|CANCELED|EXPIRED|OPEN)$"
"""OPEN = NEW or PARTIALLY_FILLED."""
ServiceDep = Annotated[PaperService, Depends(get_service)]


def get_runtime(service: ServiceDep) -> Runtime:
    return service.deps


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


Asset = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$")]
Amount = Annotated[NonNegativeDec, Field(le=Decimal("1e18"), decimal_places=18)]


class AccountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    balances: dict[Asset, Amount] = Field(default_factory=lambda: {"USDT": Decimal(10000)},
                                          max_length=100)
    allow_short: bool = False
    tenant_id: Identifier = "default"


@router.get("/accounts")
async def list_accounts(service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        return who.visible(await queries.accounts(uow.session))


@router.get("/accounts/{account_id}")
async def get_account(account_id: Identifier, service: ServiceDep, who: ReadPrincipal) -> dict[str, Any]:
    return await _account(account_id, service)


async def _account(account_id: str, service: Service) -> dict[str, Any]:
    async with service.uow() as uow:
        found = await queries.account(uow.session, account_id)
    if found is None:
        raise HTTPException(404, f"no paper account {account_id}")
    return found


@router.get("/accounts/{account_id}/balances")
async def get_balances(account_id: Identifier, service: ServiceDep,
                       who: ReadPrincipal) -> list[dict[str, Any]]:
    return (await _account(account_id, service))["balances"]


@router.put("/accounts/{account_id}")
async def put_account(account_id: Identifier, body: AccountConfig, service: ServiceDep,
                      runtime: RuntimeDep, who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await account_cmds.configure(uow, runtime, account_id, body.tenant_id, body.balances,
                                     body.allow_short)
    return await _account(account_id, service)


@router.post("/accounts/{account_id}/reset")
async def reset_account(account_id: Identifier, service: ServiceDep,
                        runtime: RuntimeDep, who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await account_cmds.reset(uow, runtime, account_id)
    return await _account(account_id, service)


@router.get("/orders")
async def list_orders(
    service: ServiceDep,
    who: ReadPrincipal,
    account_id: Identifier | None = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    symbol: str | None = None,
    list_id: str | None = None,
    position_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        return who.visible(await queries.orders(uow.session, who.query_account(account_id), status,
                                                symbol, list_id, position_id, limit))


@router.get("/live-orders")
async def list_live_orders(
    service: ServiceDep,
    who: ReadPrincipal,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 5000,
) -> dict[str, Any]:
    """Every account's live orders after ``after_seq`` (account, order id, seq) in seq order:
    position's stop watchdog reads them all in one request a round, not one per account.
    ``next_after_seq``: the cursor of the next page; None when this one was not full (the end)."""
    # The token's accounts filter the statement, not only the answer: a page cut before the
    # filter would come back short while more of this caller's orders follow.
    async with service.uow() as uow:
        rows = await queries.live_orders(uow.session, after_seq, limit, who.account_filter(None))
    return {"orders": who.visible(rows),
            "next_after_seq": rows[-1]["seq"] if len(rows) == limit else None}


@router.get("/accounts/{account_id}/orders/{order_id}")
async def get_order(account_id: Identifier, order_id: str, service: ServiceDep,
                    who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        found = await queries.order(uow.session, account_id, order_id)
    if found is None:
        raise HTTPException(404, f"no order {order_id} for {account_id}")
    return found


@router.get("/fills")
async def list_fills(
    service: ServiceDep,
    who: ReadPrincipal,
    account_id: Identifier | None = None,
    symbol: str | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        return who.visible(await queries.fills(uow.session, who.query_account(account_id), symbol,
                                               order_id, limit))


@router.get("/symbols")
async def list_symbols(runtime: RuntimeDep) -> list[dict[str, str]]:
    """The symbols' trading rules (tick, step, minimums): how a UI rounds prices and sizes."""
    return [{"symbol": r.symbol, "base": r.base, "quote": r.quote, "tick_size": format(r.tick_size, "f"),
             "step_size": format(r.step_size, "f"), "min_qty": format(r.min_qty, "f"),
             "min_notional": format(r.min_notional, "f")}
            for r in sorted(runtime.rules.values(), key=lambda r: r.symbol)]
