"""HTTP API of execution: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from robson_kit.app import get_service
from robson_kit.auth import AdminPrincipal, ReadPrincipal

from robson_execution.adapters import repo
from robson_execution.deps import ExecutionService
from robson_execution.handlers import accounts as account_handlers
from robson_execution.runtime.executor import Executor
from robson_execution.runtime.reconciler import run_safely

router = APIRouter(tags=["execution"])
ServiceDep = Annotated[ExecutionService, Depends(get_service)]


def _executor(service: ExecutionService) -> Executor:
    return service.deps.executor


class AccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["PAPER", "LIVE"] = "PAPER"
    testnet: bool = True
    confirmation: str | None = Field(None, description=f"must be '{account_handlers.CONFIRMATION}' to enable LIVE")


class ApiKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=8, max_length=256)
    api_secret: str = Field(min_length=8, max_length=256, repr=False)


def _account_view(row: Any, ex: Executor) -> dict[str, Any]:
    return {
        "account_id": row.account_id, "mode": row.mode, "testnet": row.testnet,
        "key_fingerprint": row.key_fingerprint, "has_keys": bool(row.credentials),
        "status": ("READY" if row.account_id in ex.ready else "RECONCILING") if row.mode == "LIVE" else "PAPER",
        "user_stream": "UP" if ex.stream_up(row.account_id) else "DOWN (REST polling)",
        "live_confirmed_at": row.live_confirmed_at,
    }


@router.put("/accounts/{account_id}")
async def put_account(account_id: str, body: AccountSettings, service: ServiceDep,
                      who: AdminPrincipal) -> dict[str, Any]:
    ex = _executor(service)
    try:
        await account_handlers.set_mode(service, account_id, body.mode, body.testnet, body.confirmation,
                                        actor=who)
    except account_handlers.AccountError as exc:
        raise HTTPException(exc.status, {"reason_code": exc.reason_code, "message": str(exc)}) from exc
    if body.mode == "PAPER":
        ex.ready.discard(account_id)
        ex.stop_stream(account_id)
    ex.accounts_changed()
    return await _account(account_id, service)


@router.put("/accounts/{account_id}/keys")
async def put_keys(account_id: str, body: ApiKeys, service: ServiceDep, who: AdminPrincipal) -> dict[str, Any]:
    try:
        await account_handlers.store_keys(service, account_id, body.api_key, body.api_secret, actor=who)
    except account_handlers.AccountError as exc:
        raise HTTPException(exc.status, {"reason_code": exc.reason_code, "message": str(exc)}) from exc
    _executor(service).accounts_changed()
    return await _account(account_id, service)


@router.post("/keys/rotate")
async def rotate_keys(service: ServiceDep, who: AdminPrincipal) -> dict[str, Any]:
    rotated = await account_handlers.rotate_all(service)
    _executor(service).accounts_changed()
    return {"rotated": rotated}


@router.get("/accounts")
async def list_accounts(service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        rows = await repo.all_accounts(uow.session)
    return [_account_view(r, _executor(service)) for r in rows if who.can_access(r.account_id)]


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, service: ServiceDep, who: ReadPrincipal) -> dict[str, Any]:
    return await _account(account_id, service)


async def _account(account_id: str, service: ExecutionService) -> dict[str, Any]:
    async with service.uow() as uow:
        row = await repo.get_account(uow.session, account_id)
    if row is None:
        raise HTTPException(404, f"account {account_id} is not known to execution")
    return _account_view(row, _executor(service))


@router.get("/accounts/{account_id}/orders")
async def get_orders(account_id: str, service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        rows = await repo.list_orders(uow.session, account_id)
    return [{"order_id": r.order_id, "client_order_id": r.client_order_id, "symbol": r.symbol,
             "status": r.status, "role": r.role, "list_id": r.list_id, "spec": r.spec,
             "exchange_order_id": r.exchange_order_id, "filled_qty": str(r.filled_qty),
             "superseded": r.superseded, "reject_reason": r.reject_reason} for r in rows]


@router.get("/accounts/{account_id}/fills")
async def get_fills(account_id: str, service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        rows = await repo.list_fills(uow.session, account_id)
    return [{"trade_id": r.trade_id, "symbol": r.symbol, "client_order_id": r.client_order_id,
             "price": str(r.price), "quantity": str(r.quantity), "fee": str(r.fee),
             "fee_asset": r.fee_asset,
             "fee_quote": str(r.fee_quote) if r.fee_quote is not None else None,
             "is_maker": r.is_maker, "filled_at": r.filled_at, "source": r.source} for r in rows]


@router.get("/accounts/{account_id}/reconciliations")
async def get_reconciliations(account_id: str, service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        rows = await repo.list_reconciliations(uow.session, account_id)
    return [{"reconciliation_id": r.reconciliation_id, "trigger": r.trigger, "ok": r.ok,
             "items": r.items, "balances": r.balances, "balances_at": r.balances_at,
             "completed_at": r.completed_at} for r in rows]


@router.post("/accounts/{account_id}/reconcile")
async def trigger_reconciliation(account_id: str, service: ServiceDep, who: AdminPrincipal) -> dict[str, Any]:
    report = await run_safely(_executor(service), account_id, "MANUAL")
    if report is None:
        raise HTTPException(409, "reconciliation did not complete (account not live, or venue unreachable)")
    return report.model_dump(mode="json")


@router.get("/breakers")
async def get_breakers(service: ServiceDep, who: ReadPrincipal) -> list[dict[str, Any]]:
    ex = _executor(service)
    now = ex.clock.now()
    return [{"symbol": b.symbol, "state": b.current(now).state.value, "failures": b.failures,
             "opened_at": b.opened_at, "last_error": b.last_error,
             "half_open_at": b.opened_at + b.cool_down if b.opened_at else None}
            for b in sorted(ex.breakers.values(), key=lambda b: b.symbol)]
