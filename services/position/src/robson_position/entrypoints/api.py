"""HTTP API of position: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from robson_contracts import (
    CloseAllPositions,
    ClosePosition,
    ExitReason,
    Modification,
    ModificationKind,
    ModifyPosition,
    TriggeredBy,
)
from robson_kit.auth import AdminPrincipal, Principal, ReadPrincipal, TradePrincipal
from robson_kit.auth.audit import record_actor
from robson_kit.errors import ConflictError
from robson_kit.service import Service

from robson_position.adapters.repository import Audit, Positions, Settings
from robson_position.deps import PositionService
from robson_position.domain.policy import AccountSettings, ManagementPolicy
from robson_position.handlers import commands
from robson_position.handlers.management import set_paused
from robson_position.handlers.runtime import Runtime
from robson_position.views import position_view

router = APIRouter(tags=["position"])


def get_service(request: Request) -> PositionService:
    return request.app.state.service


SvcDep = Annotated[PositionService, Depends(get_service)]


def _runtime(service: PositionService) -> Runtime:
    return service.deps.runtime


class ModifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modification: Modification
    expected_version: int | None = None
    override_manual: bool = False


class StopBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price: Decimal = Field(gt=0)
    expected_version: int | None = None
    reason: str = "manual stop"


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fraction: Decimal | None = Field(None, gt=0, le=1)
    reason: str = ""


OwnerAccount = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                           description="the trader's account")]


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = "default"
    reason: str = ""


async def _own_trader(session: Any, who: Principal, trader_id: str,
                      account_id: str | None = None, rehome: bool = False) -> str | None:
    """A trader is acted on through its own account only: a trader of another account (or
    named under the wrong one) is unknown to the caller (404, revealing nothing); a trader
    position has never seen, or moved to another account (``rehome``: the config's policy
    PUT), is only for a token over every account. Returns the trader's known account."""
    owner = await Settings(session).trader_account(trader_id)
    claimed = account_id if account_id is not None else owner
    if owner is None or (rehome and claimed != owner):
        if who.all_accounts:
            return owner
    elif claimed == owner and who.can_access(owner):
        return owner
    where = f" in account {account_id!r}" if account_id is not None else ""
    raise HTTPException(404, f"no trader {trader_id!r}{where}")


async def _load(service: Service, position_id: str, who: Principal) -> Any:
    """Another account's position is as unknown as a missing one."""
    async with service.uow() as uow:
        position = await Positions(uow.session).get(position_id)
    if position is None or not who.can_access(position.s.account_id):
        raise HTTPException(404, f"no position {position_id}")
    return position


@router.get("/positions")
async def list_positions(service: SvcDep, who: ReadPrincipal, status: str | None = None,
                         trader_id: str | None = None, symbol: str | None = None,
                         account_id: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    rt = _runtime(service)
    async with service.uow() as uow:
        found = await Positions(uow.session).query(account_id=who.query_account(account_id),
                                                   trader_id=trader_id, symbol=symbol, status=status,
                                                   limit=limit)
    return [position_view(p, rt.book, rt.clock.now()) for p in found if who.can_access(p.s.account_id)]


@router.get("/positions/{position_id}")
async def get_position(service: SvcDep, position_id: str, who: ReadPrincipal) -> dict[str, Any]:
    rt = _runtime(service)
    return position_view(await _load(service, position_id, who), rt.book, rt.clock.now())


@router.get("/positions/{position_id}/modifications")
async def modification_history(service: SvcDep, position_id: str, who: ReadPrincipal) -> list[dict[str, Any]]:
    await _load(service, position_id, who)
    async with service.uow() as uow:
        rows = await Audit(uow.session).history(position_id)
    return json.loads(json.dumps(rows, default=str))


async def _modify(service: SvcDep, position_id: str, mod: Modification, expected_version: int | None,
                  override: bool, who: Principal) -> JSONResponse:
    rt = _runtime(service)
    position = await _load(service, position_id, who)
    cmd = ModifyPosition(occurred_at=rt.market_clock.now(), account_id=position.s.account_id,
                         position_id=position_id, modification=mod, triggered_by=TriggeredBy.USER_MANUAL,
                         override_manual=override)
    try:
        async with service.uow() as uow:
            await record_actor(uow.session, who)
            position = await commands.load(uow, position_id)
            verdict = await commands.modify(uow, rt, position, mod, TriggeredBy.USER_MANUAL, override, cmd,
                                            cmd.occurred_at, expected_version)
    except ConflictError as exc:
        async with service.uow() as uow:
            await record_actor(uow.session, who)
            await Audit(uow.session).record(
                position_id=position_id, message_id=str(cmd.message_id), at=cmd.occurred_at,
                triggered_by="USER_MANUAL", kind=mod.kind.value,
                request=json.loads(mod.model_dump_json()), verdict="CONFLICT", violations=[],
                reason=mod.reason, outcome=str(exc))
        raise
    body = {"applied": verdict.applied, "version": verdict.version,
            "violations": [v.model_dump() for v in verdict.violations]}
    return JSONResponse(body, status_code=200 if verdict.applied else 422)


@router.post("/positions/{position_id}/modifications")
async def modify_position(service: SvcDep, position_id: str, body: ModifyBody,
                          who: TradePrincipal) -> JSONResponse:
    return await _modify(service, position_id, body.modification, body.expected_version,
                         body.override_manual, who)


@router.put("/positions/{position_id}/stop-loss")
async def set_stop_loss(service: SvcDep, position_id: str, body: StopBody,
                        who: TradePrincipal) -> JSONResponse:
    mod = Modification(kind=ModificationKind.MOVE_SL, new_value=body.price, reason=body.reason)
    return await _modify(service, position_id, mod, body.expected_version, False, who)


@router.put("/positions/{position_id}/take-profits/{index}")
async def set_take_profit(service: SvcDep, position_id: str, index: int, body: StopBody,
                          who: TradePrincipal) -> JSONResponse:
    mod = Modification(kind=ModificationKind.MODIFY_TP, tp_index=index, new_value=body.price,
                       reason=body.reason)
    return await _modify(service, position_id, mod, body.expected_version, False, who)


@router.post("/positions/{position_id}/close")
async def close_position(service: SvcDep, position_id: str, who: TradePrincipal,
                         body: CloseBody | None = None) -> dict[str, Any]:
    body = body or CloseBody()
    rt = _runtime(service)
    position = await _load(service, position_id, who)
    cmd = ClosePosition(occurred_at=rt.market_clock.now(), account_id=position.s.account_id,
                        position_id=position_id, reason=ExitReason.MANUAL_CLOSE,
                        triggered_by=TriggeredBy.USER_MANUAL, fraction=body.fraction)
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        position = await commands.load(uow, position_id)
        acted = await commands.close(uow, rt, position, cmd.reason, cmd.fraction, cmd.triggered_by, cmd,
                                     cmd.occurred_at, note=body.reason)
    if not acted:
        if body.fraction is not None and position.s.status.value in ("OPEN", "PARTIALLY_CLOSED"):
            raise HTTPException(409, f"{body.fraction} of what position {position_id} holds is "
                                     "below what its venue trades: nothing sent")
        raise HTTPException(409, f"position {position_id} is {position.s.status.value}: nothing to close")
    return {"closing": True, "status": position.s.status.value, "version": position.s.version}


@router.post("/accounts/{account_id}/close-all")
async def close_all(service: SvcDep, account_id: str, who: TradePrincipal,
                    body: PauseBody | None = None) -> dict[str, Any]:
    rt = _runtime(service)
    cmd = CloseAllPositions(occurred_at=rt.market_clock.now(), account_id=account_id,
                            reason=ExitReason.MANUAL_CLOSE, triggered_by=TriggeredBy.USER_MANUAL,
                            note=body.reason if body else "")
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        count = await commands.close_all(uow, rt, account_id, cmd.reason, cmd.triggered_by, cmd,
                                         cmd.occurred_at, note=cmd.note)
    return {"closing": count}


@router.post("/traders/{trader_id}/pause")
async def pause_trader(service: SvcDep, trader_id: str, who: TradePrincipal,
                       body: PauseBody | None = None) -> dict[str, Any]:
    body = body or PauseBody()
    async with service.uow() as uow:
        await _own_trader(uow.session, who, trader_id, body.account_id)
        await record_actor(uow.session, who)
        changed = await set_paused(uow, _runtime(service), body.account_id, trader_id, True, body.reason)
    return {"trader_id": trader_id, "paused": True, "changed": changed}


@router.post("/traders/{trader_id}/resume")
async def resume_trader(service: SvcDep, trader_id: str, who: TradePrincipal,
                       body: PauseBody | None = None) -> dict[str, Any]:
    body = body or PauseBody()
    async with service.uow() as uow:
        await _own_trader(uow.session, who, trader_id, body.account_id)
        await record_actor(uow.session, who)
        changed = await set_paused(uow, _runtime(service), body.account_id, trader_id, False, body.reason)
    return {"trader_id": trader_id, "paused": False, "changed": changed}


@router.put("/traders/{trader_id}/policy")
async def put_policy(service: SvcDep, trader_id: str, policy: ManagementPolicy,
                     who: AdminPrincipal, account_id: OwnerAccount = None) -> dict[str, Any]:
    """``account_id`` records the trader's account (``robson apply`` sends it)."""
    async with service.uow() as uow:
        await _own_trader(uow.session, who, trader_id, account_id, rehome=True)
        await record_actor(uow.session, who)
        await Settings(uow.session).put_policy(trader_id, policy, account_id)
        _runtime(service).settings.changed(uow, "trader", trader_id)
    return {"trader_id": trader_id, "policy": json.loads(policy.model_dump_json())}


@router.get("/traders/{trader_id}/policy")
async def get_policy(service: SvcDep, trader_id: str, who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        owner = await _own_trader(uow.session, who, trader_id)
        settings = Settings(uow.session)
        policy, paused = await settings.policy(trader_id), await settings.paused(trader_id)
    return {"trader_id": trader_id, "account_id": owner, "paused": paused,
            "policy": json.loads(policy.model_dump_json())}


@router.put("/accounts/{account_id}")
async def put_account(service: SvcDep, account_id: str, settings: AccountSettings,
                      who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        await Settings(uow.session).put_account(account_id, settings)
        _runtime(service).settings.changed(uow, "account", account_id)
    return {"account_id": account_id, **json.loads(settings.model_dump_json())}


@router.get("/accounts/{account_id}")
async def get_account(service: SvcDep, account_id: str, who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        settings = await Settings(uow.session).account(account_id)
    return {"account_id": account_id, **json.loads(settings.model_dump_json())}

