"""Deliveries and config in the notify schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from robson_contracts import derive_id
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_notify.adapters.tables import config, deliveries
from robson_notify.domain.config import NotificationsConfig
from robson_notify.domain.model import DeliveryStatus, Notice, Severity
from robson_notify.domain.policy import Next

S = DeliveryStatus


def delivery_id(event_id: uuid.UUID, channel: str) -> uuid.UUID:
    return derive_id("notify-delivery", event_id, channel)


async def load_config(session: AsyncSession) -> NotificationsConfig | None:
    row = (await session.execute(select(config.c.data).where(config.c.id == 1))).first()
    return None if row is None else NotificationsConfig.model_validate(row.data)


async def save_config(session: AsyncSession, cfg: NotificationsConfig, now: datetime) -> None:
    data = cfg.model_dump(mode="json")
    stmt = insert(config).values(id=1, data=data, updated_at=now)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[config.c.id], set_={"data": data, "updated_at": now}))


async def add_deliveries(session: AsyncSession, notice: Notice, channels: list[str],
                         now: datetime) -> int:
    """One row per (event, channel); a repeat of the event adds nothing."""
    rows = [{"delivery_id": delivery_id(notice.event_id, ch), "event_id": notice.event_id,
             "channel": ch, "kind": notice.kind, "severity": int(notice.severity),
             "account_id": notice.account_id, "title": notice.title, "text": notice.text,
             "data": notice.data, "status": S.PENDING.value, "attempts": 0,
             "next_attempt_at": now, "created_at": now, "occurred_at": notice.occurred_at,
             "last_error": ""} for ch in channels]
    result = await session.execute(insert(deliveries).values(rows).on_conflict_do_nothing()
                                   .returning(deliveries.c.delivery_id))
    return len(result.all())


async def due(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    stmt = (select(deliveries).where(and_(deliveries.c.status == S.PENDING.value,
                                          deliveries.c.next_attempt_at <= now))
            .order_by(deliveries.c.severity.desc(), deliveries.c.created_at).limit(limit))
    return list((await session.execute(stmt)).all())


async def next_due_at(session: AsyncSession) -> datetime | None:
    stmt = select(func.min(deliveries.c.next_attempt_at)).where(
        deliveries.c.status == S.PENDING.value)
    return (await session.execute(stmt)).scalar()


async def claim(session: AsyncSession, ids: list[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    """Mark an attempt before it is made: committed, it survives a crash mid-request."""
    stmt = (update(deliveries)
            .where(and_(deliveries.c.delivery_id.in_(ids), deliveries.c.status == S.PENDING.value))
            .values(status=S.ATTEMPTING.value, attempts=deliveries.c.attempts + 1)
            .returning(deliveries.c.delivery_id))
    return set((await session.execute(stmt)).scalars().all())


async def settle(session: AsyncSession, lead: uuid.UUID, others: list[uuid.UUID], nxt: Next,
                 now: datetime) -> None:
    values: dict[str, Any] = {"status": nxt.status.value, "last_error": nxt.error[:500]}
    if nxt.status is S.DELIVERED:
        values["delivered_at"] = now
    if nxt.at is not None:
        values["next_attempt_at"] = nxt.at
    await session.execute(update(deliveries).where(deliveries.c.delivery_id == lead).values(**values))
    if others:
        await session.execute(update(deliveries).where(deliveries.c.delivery_id.in_(others))
                              .values(**values, collapsed_into=lead))


async def defer(session: AsyncSession, ids: list[uuid.UUID], until: datetime) -> None:
    await session.execute(update(deliveries).where(deliveries.c.delivery_id.in_(ids))
                          .values(next_attempt_at=until))


async def expire(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    await session.execute(update(deliveries).where(deliveries.c.delivery_id.in_(ids)).values(
        status=S.FAILED.value, last_error="EXPIRED: not delivered within 24 h"))


async def recover(session: AsyncSession) -> tuple[int, int]:
    """Attempts a crash interrupted: critical ones are sent again (at least once, deduplicated
    by key at webhooks), routine ones are not (at most once)."""
    attempting = deliveries.c.status == S.ATTEMPTING.value
    critical = deliveries.c.severity >= int(Severity.CRITICAL)
    again = await session.execute(update(deliveries).where(and_(attempting, critical))
                                  .values(status=S.PENDING.value))
    lost = await session.execute(update(deliveries).where(and_(attempting, ~critical)).values(
        status=S.FAILED.value,
        last_error="UNKNOWN_OUTCOME: notify stopped during the attempt (not resent)"))
    return again.rowcount or 0, lost.rowcount or 0  # type: ignore[attr-defined]


async def prune(session: AsyncSession, before: datetime) -> int:
    """Settled deliveries older than the retention; pending ones stay whatever their age."""
    done = deliveries.c.status.in_([S.DELIVERED.value, S.FAILED.value])
    result = await session.execute(deliveries.delete().where(and_(done,
                                                                  deliveries.c.created_at < before)))
    return result.rowcount or 0  # type: ignore[attr-defined]


async def listing(session: AsyncSession, failed: bool, status: str | None, channel: str | None,
                  accounts: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """``accounts``: None for every delivery (an all-accounts token), else only these accounts'."""
    stmt = select(deliveries).order_by(deliveries.c.created_at.desc()).limit(limit)
    if failed:
        stmt = stmt.where(deliveries.c.status == S.FAILED.value)
    if status:
        stmt = stmt.where(deliveries.c.status == status)
    if channel:
        stmt = stmt.where(deliveries.c.channel == channel)
    if accounts is not None:
        stmt = stmt.where(deliveries.c.account_id.in_(accounts))
    return [_public(r) for r in (await session.execute(stmt)).all()]


async def one(session: AsyncSession, did: uuid.UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(deliveries).where(deliveries.c.delivery_id == did))).first()
    return None if row is None else _public(row)


def _public(r: Any) -> dict[str, Any]:
    return {"delivery_id": str(r.delivery_id), "event_id": str(r.event_id), "channel": r.channel,
            "kind": r.kind, "severity": Severity(r.severity).label, "account_id": r.account_id,
            "title": r.title, "status": r.status, "attempts": r.attempts,
            "created_at": r.created_at.isoformat(), "occurred_at": r.occurred_at.isoformat(),
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            "next_attempt_at": r.next_attempt_at.isoformat(), "last_error": r.last_error,
            "collapsed_into": str(r.collapsed_into) if r.collapsed_into else None}
