"""Approve, reject, or let a pending decision proceed after its cancel window."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import TradeDecision
from robson_kit.errors import ConflictError
from robson_kit.uow import UnitOfWork
from sqlalchemy import func, select, update

from robson_decision.adapters.tables import decisions
from robson_decision.handlers.record import Status


class UnknownDecision(LookupError):
    pass


async def approve(uow: UnitOfWork, decision_id: str, by: str) -> TradeDecision:
    row = await _pending(uow, decision_id)
    decision = TradeDecision.model_validate_json(row.payload)
    await _resolve(uow, decision_id, Status.APPROVED, by)
    uow.emit(decision)
    return decision


async def reject(uow: UnitOfWork, decision_id: str, by: str, reason: str) -> None:
    await _pending(uow, decision_id)
    await _resolve(
        uow,
        decision_id,
        Status.USER_REJECTED,
        by,
        reason_code=Status.USER_REJECTED.value,
        note=reason,
    )


async def proceed_due(uow: UnitOfWork, now: datetime, limit: int = 100) -> int:
    """Publish every pending decision whose cancel window has passed."""
    rows = (
        await uow.session.execute(
            select(decisions.c.decision_id, decisions.c.payload)
            .where(decisions.c.status == Status.PENDING.value, decisions.c.pending_until <= now)
            .order_by(decisions.c.pending_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        await _resolve(uow, row.decision_id, Status.AUTO_APPROVED, "cancel-window")
        uow.emit(TradeDecision.model_validate_json(row.payload))
    return len(rows)


async def earliest_open_window(uow: UnitOfWork) -> datetime | None:
    """When the first cancel window still open ends (None: no decision waits on one)."""
    return (
        await uow.session.execute(
            select(func.min(decisions.c.pending_until)).where(
                decisions.c.status == Status.PENDING.value, decisions.c.pending_until.is_not(None)
            )
        )
    ).scalar()


async def _pending(uow: UnitOfWork, decision_id: str):
    row = (
        await uow.session.execute(
            select(decisions.c.status, decisions.c.payload)
            .where(decisions.c.decision_id == decision_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDecision(f"no decision {decision_id}")
    if row.status != Status.PENDING.value:
        raise ConflictError(f"decision {decision_id} is {row.status}, not PENDING")
    return row


async def _resolve(
    uow: UnitOfWork,
    decision_id: str,
    status: Status,
    by: str,
    reason_code: str | None = None,
    note: str | None = None,
) -> None:
    values: dict[str, object] = {
        "status": status.value,
        "resolved_at": uow.clock.now(),
        "resolved_by": by[:64],
    }
    if reason_code is not None:
        values["reason_code"] = reason_code
    if note:
        values["resolution_note"] = note[:500]
    await uow.session.execute(
        update(decisions).where(decisions.c.decision_id == decision_id).values(**values)
    )
