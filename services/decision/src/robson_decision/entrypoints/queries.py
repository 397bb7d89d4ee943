"""Read side of the API: decisions with filters and full reasoning, model calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from robson_kit.db import plain_row
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from robson_decision.adapters.tables import decisions, model_calls

SUMMARY = (
    "decision_id",
    "account_id",
    "trader_id",
    "symbol",
    "timeframe",
    "kind",
    "question",
    "engine",
    "status",
    "reason_code",
    "fallback_reason",
    "signal_id",
    "position_id",
    "occurred_at",
    "created_at",
    "pending_until",
    "resolved_at",
    "resolved_by",
    "resolution_note",
    "model_calls",
)


async def list_decisions(
    session: AsyncSession,
    filters: dict[str, Any],
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    q = select(decisions)
    for column, value in filters.items():
        if value is not None:
            q = q.where(decisions.c[column] == value)
    if since is not None:
        q = q.where(decisions.c.occurred_at >= since)
    if until is not None:
        q = q.where(decisions.c.occurred_at < until)
    q = (
        q.order_by(decisions.c.occurred_at.desc(), decisions.c.decision_id)
        .limit(limit)
        .offset(offset)
    )
    return [_summary(r) for r in (await session.execute(q)).all()]


async def get_decision(session: AsyncSession, decision_id: str) -> dict[str, Any] | None:
    row = (
        await session.execute(select(decisions).where(decisions.c.decision_id == decision_id))
    ).first()
    if row is None:
        return None
    calls = await list_model_calls(session, {"decision_id": decision_id}, 50)
    return {
        **_summary(row),
        "decision": json.loads(row.payload),
        "violations": row.violations,
        "raw_answer": row.raw_answer,
        "proposal": row.proposal,
        "context": row.context,
        "model_call_records": calls,
    }


async def trader_account(session: AsyncSession, trader_id: str) -> str | None:
    """The account of a trader's latest decision (None: it has decided nothing yet)."""
    q = (select(decisions.c.account_id).where(decisions.c.trader_id == trader_id)
         .order_by(decisions.c.occurred_at.desc()).limit(1))
    return (await session.execute(q)).scalar()


async def list_model_calls(
    session: AsyncSession, filters: dict[str, Any], limit: int,
    accounts: list[str] | None = None,
) -> list[dict[str, Any]]:
    """``accounts``: None for every call, else only calls made for a decision of these accounts
    (a trader moved between accounts does not carry its old account's calls along)."""
    q = select(model_calls)
    for column, value in filters.items():
        if value is not None:
            q = q.where(model_calls.c[column] == value)
    if accounts is not None:
        q = q.where(model_calls.c.decision_id.in_(
            select(decisions.c.decision_id).where(decisions.c.account_id.in_(accounts))))
    rows = (await session.execute(q.order_by(model_calls.c.call_id.desc()).limit(limit))).all()
    return [{k: _plain(v) for k, v in plain_row(r._mapping).items()} for r in rows]


def _summary(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {k: _plain(m[k]) for k in SUMMARY} | {"reasoning": json.loads(row.payload)["reasoning"]}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "as_tuple"):
        return str(value)
    return value


async def model_calls_since(session: AsyncSession, trader_id: str, start: datetime) -> int:
    """Model calls (every attempt, dry runs included) a trader made since ``start``."""
    q = select(func.count()).select_from(model_calls).where(
        model_calls.c.trader_id == trader_id, model_calls.c.created_at >= start)
    return int((await session.execute(q)).scalar_one())
