"""Store every decision with its full reasoning; publish it now or hold it for approval."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from robson_contracts import DecisionKind, TradeDecision, derive_id
from robson_contracts.alerts import DecisionAwaitingApproval
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.repository import DecisionDocuments, Repository
from robson_decision.domain.context import DecisionContext
from robson_decision.domain.decide import Outcome
from robson_decision.domain.settings import ApprovalMode, TraderSettings
from robson_decision.handlers.approval_timer import ApprovalTimer


class Status(StrEnum):
    PUBLISHED = "PUBLISHED"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    AUTO_APPROVED = "AUTO_APPROVED"
    USER_REJECTED = "USER_REJECTED"


def actionable(d: TradeDecision) -> bool:
    return (
        d.decision.is_entry
        or d.decision in (DecisionKind.CLOSE, DecisionKind.PARTIAL_TP)
        or bool(d.modifications)
    )


async def record(
    uow: UnitOfWork,
    repo: Repository,
    outcome: Outcome,
    ctx: DecisionContext,
    s: TraderSettings,
    now: datetime,
    timer: ApprovalTimer | None = None,
) -> bool:
    """False when this decision was already recorded (a replayed input): nothing is emitted.
    ``timer`` learns of a cancel window once the decision is committed."""
    d = outcome.decision
    hold = s.approval_mode is not ApprovalMode.NONE and actionable(d)
    until = (
        now + timedelta(seconds=float(s.cancel_window_seconds))
        if hold and s.approval_mode is ApprovalMode.CANCEL_WINDOW
        else None
    )
    added = await repo.add_decision(
        {
            "decision_id": d.decision_id,
            "message_id": str(d.message_id),
            "account_id": d.account_id,
            "trader_id": d.trader_id,
            "symbol": d.symbol,
            "timeframe": d.timeframe,
            "kind": d.decision.value,
            "question": ctx.kind,
            "engine": d.engine.value,
            "status": (Status.PENDING if hold else Status.PUBLISHED).value,
            "reason_code": outcome.reason_code,
            "fallback_reason": outcome.info.fallback_reason,
            "violations": list(outcome.violations),
            "raw_answer": outcome.info.raw_answer,
            "model_calls": outcome.info.model_calls,
            "signal_id": d.signal_id,
            "position_id": d.position_id or (ctx.position.position_id if ctx.position else None),
            "occurred_at": d.occurred_at,
            "created_at": now,
            "pending_until": until,
        },
        DecisionDocuments(d, outcome.proposal, ctx),
    )
    if added and not hold:
        uow.emit(d)
    elif added:
        uow.emit(awaiting_approval(d, until))
        if until is not None and timer is not None:
            uow.after_commit(lambda: timer.held_until(until))
    return added


def awaiting_approval(d: TradeDecision, until: datetime | None) -> DecisionAwaitingApproval:
    """Tell people a decision is held: its id derives from the decision's, so a replay is a no-op."""
    return DecisionAwaitingApproval(
        **d.caused(
            message_id=derive_id("awaiting-approval", d.account_id, d.decision_id),
            occurred_at=d.occurred_at,
            account_id=d.account_id,
            decision_id=d.decision_id,
            trader_id=d.trader_id,
            symbol=d.symbol,
            decision=d.decision,
            confidence=d.confidence,
            reasoning=d.reasoning,
            expires_at=until,
        )
    )
