"""HTTP API of entry_gate: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from robson_contracts import GateOutcome, TradeDecision
from robson_kit.app import get_deps, get_service
from robson_kit.auth import AccountHidden, AdminPrincipal, ReadPrincipal, TradePrincipal
from robson_kit.auth.audit import record_actor

from robson_entry_gate.adapters import decision_log
from robson_entry_gate.adapters.decision_log import DecisionFilter
from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy
from robson_entry_gate.handlers import admin, queries
from robson_entry_gate.handlers.deps import GateDeps

router = APIRouter(tags=["entry_gate"])
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


ServiceDep = Annotated[EntryGateService, Depends(get_service)]
DepsDep = Annotated[GateDeps, Depends(get_deps)]
AccountId = Annotated[str, Path(pattern=ID_PATTERN)]
TraderId = Annotated[str, Path(pattern=ID_PATTERN)]


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=500, description="why the admin unlocks")
    lockout_id: str | None = None
    """Clear only this lockout; omitted clears the kill switch and every lockout."""


@router.post("/check")
async def check(decision: TradeDecision, service: ServiceDep, deps: DepsDep,
                who: TradePrincipal) -> dict[str, Any]:
    """Dry run: the consumer's evaluation, nothing recorded or changed."""
    if not who.can_access(decision.account_id):
        raise AccountHidden(decision.account_id, "account")
    if not decision.decision.is_entry:
        raise HTTPException(422, [{"field": "body.decision", "type": "value_error",
                                   "message": "entry_gate judges only LONG and SHORT decisions"}])
    async with service.uow() as uow:
        result = await queries.dry_run(uow.session, deps, decision)
    return {"dry_run": True, **result.model_dump(mode="json")}


@router.get("/decisions")
async def list_decisions(
    service: ServiceDep, who: ReadPrincipal,
    account_id: str | None = None, trader_id: str | None = None, symbol: str | None = None,
    outcome: GateOutcome | None = None, reason_code: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, before_seq: int | None = None,
) -> dict[str, Any]:
    f = DecisionFilter(who.query_account(account_id), trader_id, symbol, outcome.value if outcome else None,
                       reason_code, since, until, limit, before_seq)
    async with service.uow() as uow:
        items = who.visible(await decision_log.query(uow.session, f))
    return {"items": items, "next_before_seq": items[-1]["seq"] if len(items) == limit else None}


@router.get("/decisions/{gate_decision_id}")
async def get_decision(gate_decision_id: str, service: ServiceDep, who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        item = await decision_log.get(uow.session, gate_decision_id)
    if item is None or not who.can_access(item.get("account_id")):
        raise HTTPException(404, f"no gate decision {gate_decision_id}")
    return item


@router.get("/accounts/{account_id}/risk")
async def risk_status(account_id: AccountId, service: ServiceDep, deps: DepsDep, who: ReadPrincipal,
                      at: datetime | None = None) -> dict[str, Any]:
    """Without ``at``: as of the account's last event time (the wall clock if it has none)."""
    async with service.uow() as uow:
        return await queries.risk_status(uow.session, deps, account_id, at, service.clock.now())


@router.post("/accounts/{account_id}/unlock")
async def unlock(account_id: AccountId, body: UnlockRequest, service: ServiceDep,
                 deps: DepsDep, who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        cleared = await admin.unlock_account(uow, deps, account_id, service.clock.now(),
                                             body.lockout_id, body.note, by=who.subject)
    if body.lockout_id is not None and not cleared:
        raise HTTPException(404, f"no lockout {body.lockout_id} on account {account_id}")
    return {"account_id": account_id, "cleared": cleared}


@router.get("/policies/{account_id}")
async def get_policy(account_id: AccountId, deps: DepsDep, who: ReadPrincipal) -> dict[str, Any]:
    return {"account_id": account_id, "configured": deps.policies.is_configured(account_id),
            "policy": deps.policies.account(account_id).model_dump(mode="json")}


@router.put("/policies/{account_id}")
async def put_policy(account_id: AccountId, policy: AccountPolicy, service: ServiceDep,
                     deps: DepsDep, who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        try:
            await admin.put_account_policy(uow, deps, account_id, policy)
        except admin.InconsistentPolicy as exc:
            raise _refused(exc) from exc
    return {"account_id": account_id, "configured": True,
            "policy": policy.model_dump(mode="json")}


@router.get("/policies/{account_id}/traders/{trader_id}")
async def get_trader_policy(account_id: AccountId, trader_id: TraderId,
                            deps: DepsDep, who: ReadPrincipal) -> dict[str, Any]:
    return {"account_id": account_id, "trader_id": trader_id,
            "configured": deps.policies.is_configured(account_id, trader_id),
            "policy": deps.policies.trader(account_id, trader_id).model_dump(mode="json")}


@router.put("/policies/{account_id}/traders/{trader_id}")
async def put_trader_policy(account_id: AccountId, trader_id: TraderId, policy: TraderPolicy,
                            service: ServiceDep, deps: DepsDep, who: AdminPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        await record_actor(uow.session, who)
        try:
            await admin.put_trader_policy(uow, deps, account_id, trader_id, policy)
        except admin.InconsistentPolicy as exc:
            raise _refused(exc) from exc
    return {"account_id": account_id, "trader_id": trader_id, "configured": True,
            "policy": policy.model_dump(mode="json")}


def _refused(exc: admin.InconsistentPolicy) -> HTTPException:
    return HTTPException(422, [{"field": f"body.{field}", "type": "value_error", "message": m}
                               for field, m in exc.problems])
