"""The append-only log of gate decisions, with their inputs, and of admin actions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from robson_contracts import GateDecision
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import admin_actions, gate_decisions


@dataclass(frozen=True)
class DecisionFilter:
    account_id: str | None = None
    trader_id: str | None = None
    symbol: str | None = None
    outcome: str | None = None
    reason_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_seq: int | None = None


async def exists(session: AsyncSession, gate_decision_id: str) -> bool:
    row = await session.execute(select(gate_decisions.c.seq)
                                .where(gate_decisions.c.gate_decision_id == gate_decision_id))
    return row.first() is not None


async def append(session: AsyncSession, message: GateDecision) -> None:
    d = message.decision
    await session.execute(insert(gate_decisions).values(
        gate_decision_id=message.gate_decision_id, decision_id=d.decision_id,
        account_id=message.account_id, trader_id=d.trader_id, symbol=d.symbol,
        outcome=message.outcome.value, reason_codes=list(message.reason_codes),
        decided_at=message.occurred_at, payload=json.loads(message.model_dump_json()),
    ))


async def query(session: AsyncSession, f: DecisionFilter) -> list[dict[str, Any]]:
    t = gate_decisions.c
    stmt = select(t.seq, t.payload).order_by(t.seq.desc()).limit(f.limit)
    for column, value in ((t.account_id, f.account_id), (t.trader_id, f.trader_id),
                          (t.symbol, f.symbol), (t.outcome, f.outcome)):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.reason_code is not None:
        stmt = stmt.where(t.reason_codes.contains([f.reason_code]))
    if f.since is not None:
        stmt = stmt.where(t.decided_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(t.decided_at < f.until)
    if f.before_seq is not None:
        stmt = stmt.where(t.seq < f.before_seq)
    return [{"seq": r.seq, **r.payload} for r in (await session.execute(stmt)).all()]


async def get(session: AsyncSession, gate_decision_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(gate_decisions.c.seq, gate_decisions.c.payload).where(
        gate_decisions.c.gate_decision_id == gate_decision_id))).first()
    return {"seq": row.seq, **row.payload} if row else None


async def record_admin(session: AsyncSession, account_id: str, action: str,
                       detail: dict[str, Any]) -> None:
    await session.execute(insert(admin_actions).values(account_id=account_id, action=action,
                                                       detail=detail))
