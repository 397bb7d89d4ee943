"""The append-only log of gate decisions, with their inputs, and of admin actions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from robson_contracts import GateDecision
from sqlalchemy import insert, select, text
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


# Hot path statements, compiled once; the payload goes in as JSON text (no parse/re-encode).
EXISTS = text("SELECT 1 FROM gate_decisions WHERE gate_decision_id = :g")
APPEND = text(
    "INSERT INTO gate_decisions (gate_decision_id, decision_id, account_id, trader_id, symbol, "
    "outcome, reason_codes, decided_at, payload) VALUES (:g, :d, :a, :t, :s, :o, "
    "CAST(:codes AS jsonb), :at, CAST(:payload AS jsonb))"
)


async def exists(session: AsyncSession, gate_decision_id: str) -> bool:
    conn = await session.connection()
    return (await conn.execute(EXISTS, {"g": gate_decision_id})).first() is not None


async def append(session: AsyncSession, message: GateDecision) -> None:
    d = message.decision
    conn = await session.connection()
    await conn.execute(APPEND, {
        "g": message.gate_decision_id, "d": d.decision_id, "a": message.account_id,
        "t": d.trader_id, "s": d.symbol, "o": message.outcome.value,
        "codes": json.dumps(list(message.reason_codes)), "at": message.occurred_at,
        "payload": message.model_dump_json(),
    })


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
