"""HTTP API of decision: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from robson_contracts import Candle, SignalDetected
from robson_contracts.types import Identifier
from robson_kit.auth import AccountHidden, AdminPrincipal, Principal, ReadPrincipal, TradePrincipal
from robson_kit.auth.audit import record_actor
from robson_kit.service import Service

from robson_decision.adapters.memory import Memory
from robson_decision.adapters.repository import Repository
from robson_decision.deps import DecisionService
from robson_decision.domain.decide import Outcome, Stamp
from robson_decision.domain.prompts import context_document
from robson_decision.domain.settings import TraderSettings
from robson_decision.entrypoints import queries
from robson_decision.handlers import approvals
from robson_decision.handlers.ahead import ShortTransactions
from robson_decision.handlers.context import day_start, entry_context
from robson_decision.handlers.engines import ReplayRecordMissing

router = APIRouter(tags=["decision"])


def _service(request: Request) -> DecisionService:
    return request.app.state.service


def _memory(request: Request) -> Memory:
    return _service(request).deps.memory


ServiceDep = Annotated[DecisionService, Depends(_service)]
MemoryDep = Annotated[Memory, Depends(_memory)]
Limit = Annotated[int, Query(ge=1, le=500)]


class Resolution(BaseModel):
    """Who resolves is the authenticated subject, never a field of the request."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class DryRun(BaseModel):
    """A signal to decide on; ``settings`` overrides the trader's, ``candles`` the stored ones."""

    model_config = ConfigDict(extra="forbid")
    signal: SignalDetected
    settings: TraderSettings | None = None
    candles: list[Candle] | None = None


@router.get("/decisions")
async def list_decisions(
    service: ServiceDep,
    who: ReadPrincipal,
    trader_id: str | None = None,
    account_id: str | None = None,
    symbol: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    engine: str | None = None,
    reason_code: str | None = None,
    signal_id: str | None = None,
    position_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    filters = {
        "trader_id": trader_id,
        "account_id": who.query_account(account_id),
        "symbol": symbol,
        "kind": kind,
        "status": status,
        "engine": engine,
        "reason_code": reason_code,
        "signal_id": signal_id,
        "position_id": position_id,
    }
    async with service.uow() as uow:
        return who.visible(
            await queries.list_decisions(uow.session, filters, since, until, limit, offset))


@router.get("/decisions/{decision_id}")
async def get_decision(service: ServiceDep, decision_id: str, who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        found = await queries.get_decision(uow.session, decision_id)
    if found is None or not who.can_access(found.get("account_id")):
        raise HTTPException(404, f"no decision {decision_id}")
    return found


@router.get("/approvals")
async def pending_approvals(
    service: ServiceDep, who: ReadPrincipal, trader_id: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    filters = {"status": "PENDING", "trader_id": trader_id, "account_id": who.query_account(None)}
    async with service.uow() as uow:
        return who.visible(await queries.list_decisions(uow.session, filters, None, None, limit, 0))


async def _check_account(service: Service, who: Any, decision_id: str) -> None:
    """Another account's decision is as unknown as a missing one."""
    async with service.uow() as uow:
        found = await queries.get_decision(uow.session, decision_id)
    if found is not None and not who.can_access(found.get("account_id")):
        raise AccountHidden(None, f"decision {decision_id}")


@router.post("/approvals/{decision_id}/approve")
async def approve(
    service: ServiceDep, decision_id: str, who: TradePrincipal,
    body: Annotated[Resolution | None, Body()] = None,
) -> dict[str, Any]:
    await _check_account(service, who, decision_id)
    try:
        async with service.uow() as uow:
            decision = await approvals.approve(uow, decision_id, who.subject)
    except approvals.UnknownDecision as exc:
        raise HTTPException(404, str(exc)) from exc
    return {
        "decision_id": decision_id,
        "status": "APPROVED",
        "decision": json.loads(decision.model_dump_json()),
    }


@router.post("/approvals/{decision_id}/reject")
async def reject(
    service: ServiceDep, decision_id: str, who: TradePrincipal,
    body: Annotated[Resolution | None, Body()] = None,
) -> dict[str, Any]:
    resolution = body or Resolution()
    await _check_account(service, who, decision_id)
    try:
        async with service.uow() as uow:
            await approvals.reject(uow, decision_id, who.subject, resolution.reason)
    except approvals.UnknownDecision as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"decision_id": decision_id, "status": "USER_REJECTED"}


async def _own_trader(session: Any, who: Principal, trader_id: str) -> None:
    """Another account's trader is unknown to the caller (404); a trader that has decided
    nothing yet (its account unknown here) is for an all-accounts token only."""
    if who.all_accounts:
        return
    owner = await queries.trader_account(session, trader_id)
    if owner is None or not who.can_access(owner):
        raise HTTPException(404, f"no trader {trader_id!r}")


@router.get("/traders/{trader_id}/settings")
async def get_settings(
    service: ServiceDep, memory: MemoryDep, trader_id: Identifier, who: ReadPrincipal
) -> TraderSettings:
    if not who.all_accounts:  # no transaction for the usual operator token
        async with service.uow() as uow:
            await _own_trader(uow.session, who, trader_id)
    return memory.trader_settings(trader_id)


@router.put("/traders/{trader_id}/settings")
async def put_settings(
    service: ServiceDep, memory: MemoryDep, trader_id: Identifier, settings: TraderSettings,
    who: AdminPrincipal,
) -> TraderSettings:
    async with service.uow() as uow:
        await _own_trader(uow.session, who, trader_id)
        await record_actor(uow.session, who)
        await Repository(uow).put_settings(trader_id, settings, service.clock.now())
        uow.after_commit(lambda: memory.put_settings(trader_id, settings))
    return settings


@router.get("/model-calls")
async def model_calls(
    service: ServiceDep,
    who: AdminPrincipal,
    trader_id: str | None = None,
    decision_id: str | None = None,
    prompt_hash: str | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        if trader_id is None and not who.all_accounts:  # calls carry a trader, not an account
            raise HTTPException(404, "model calls of every trader: an all-accounts token only")
        if trader_id is not None:
            await _own_trader(uow.session, who, trader_id)
        return await queries.list_model_calls(
            uow.session,
            {"trader_id": trader_id, "decision_id": decision_id, "prompt_hash": prompt_hash},
            limit, who.account_filter(None),
        )


@router.post("/decide")
async def dry_run(service: ServiceDep, memory: MemoryDep, body: DryRun,
                  who: TradePrincipal) -> dict[str, Any]:
    """What would be decided for this signal now; no decision is stored or published, but a
    model call is recorded and counts against the trader's LLM budget of the (wall-clock) day."""
    if not who.can_access(body.signal.account_id):
        raise AccountHidden(body.signal.account_id, "account")
    decider = service.deps.decider
    async with service.uow() as uow:
        # the trader's settings, budget and performance are its own account's
        await _own_trader(uow.session, who, body.signal.trader_id)
        settings = body.settings or memory.trader_settings(body.signal.trader_id)
        calls = await queries.model_calls_since(uow.session, body.signal.trader_id,
                                                day_start(datetime.now(UTC)))
        ctx = await entry_context(memory, Repository(uow), body.signal, settings)
    if body.candles is not None:
        ctx = _with_candles(ctx, body.candles)
    # The model is asked with no transaction open (the server aborts one idle that long); its
    # record is read and written in short transactions of their own.
    record = ShortTransactions(service.uow, Repository)
    try:
        outcome = await decider.decide(
            ctx, settings, Stamp.for_signal(body.signal), record, calls_today=calls
        )
    except ReplayRecordMissing as exc:
        raise HTTPException(409, f"REPLAY_RECORD_MISSING: {exc}") from exc
    assert isinstance(outcome, Outcome)  # an entry question always has an answer
    return {
        "decision": json.loads(outcome.decision.model_dump_json()),
        "reason_code": outcome.reason_code,
        "violations": list(outcome.violations),
        "engine": outcome.decision.engine.value,
        "fallback_reason": outcome.info.fallback_reason,
        "raw_answer": outcome.info.raw_answer,
        "context": context_document(ctx),
    }


def _with_candles(ctx, candles: list[Candle]):
    from dataclasses import replace

    from robson_decision.domain.context import Bar

    bars = tuple(
        Bar(c.open_time, c.open, c.high, c.low, c.close, c.volume)
        for c in sorted(candles, key=lambda c: c.open_time)
    )
    return replace(ctx, bars=bars)
