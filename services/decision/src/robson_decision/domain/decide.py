"""From a proposal to a TradeDecision: validate, apply thresholds, stamp deterministic ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from robson_contracts import (
    Candle,
    DecisionEngine,
    DecisionKind,
    Message,
    Modification,
    ModificationKind,
    SignalDetected,
    TakeProfitLevel,
    TradeDecision,
    TriggeredBy,
    derive_id,
)
from robson_contracts.types import decimal_problem

from robson_decision.domain.context import DecisionContext, OpenPosition
from robson_decision.domain.proposal import Proposal, ProposedModification
from robson_decision.domain.settings import TraderSettings
from robson_decision.domain.validation import validate

VALIDATION_FAILED = "VALIDATION_FAILED"
LOW_CONFIDENCE = "LOW_CONFIDENCE"
SHORT_NOT_ALLOWED = "SHORT_NOT_ALLOWED"


@dataclass(frozen=True)
class Stamp:
    """Ids and tracing of the decision a given input produces (same input → same ids)."""

    message_id: UUID
    decision_id: str
    correlation_id: UUID
    causation_id: UUID
    tenant_id: str

    @classmethod
    def _of(cls, cause: Message, message_id: UUID, decision_id: UUID) -> Stamp:
        return cls(
            message_id, str(decision_id), cause.correlation_id, cause.message_id, cause.tenant_id
        )

    @classmethod
    def for_signal(cls, signal: SignalDetected) -> Stamp:
        return cls._of(
            signal,
            derive_id("decision", signal.message_id),
            derive_id("decision-id", signal.account_id, signal.signal_id),
        )

    @classmethod
    def for_review(cls, candle: Candle, position_id: str) -> Stamp:
        return cls._of(
            candle,
            derive_id("review", candle.message_id, position_id),
            derive_id("review-id", position_id, candle.timeframe, candle.open_time),
        )


@dataclass(frozen=True)
class EngineInfo:
    engine: DecisionEngine
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: str | None = None
    """Why the rules answered for an LLM trader (timeout, budget, HTTP errors...)."""
    raw_answer: str | None = None
    model_calls: int = 0


@dataclass(frozen=True)
class NothingToDo:
    """A position review that ends in no decision (the model said WATCH with no change, or the
    rules found nothing), with the model calls it cost all the same."""

    model_calls: int = 0


@dataclass(frozen=True)
class Outcome:
    decision: TradeDecision
    proposal: Proposal | None
    info: EngineInfo
    reason_code: str | None = None
    violations: tuple[str, ...] = field(default=())


def finalize(
    ctx: DecisionContext,
    s: TraderSettings,
    proposal: Proposal,
    stamp: Stamp,
    info: EngineInfo,
    reason_code: str | None = None,
) -> Outcome:
    violations = tuple(validate(proposal, ctx, s))
    if violations:
        why = f"{VALIDATION_FAILED}: " + "; ".join(violations)
        return _no_trade(ctx, s, stamp, info, VALIDATION_FAILED, why, proposal, violations)
    if proposal.decision is DecisionKind.SHORT and not s.allow_short:
        why = (f"{SHORT_NOT_ALLOWED}: the account cannot sell short; a SHORT signal while flat "
               f"is no trade; {proposal.reasoning}")
        return _no_trade(ctx, s, stamp, info, SHORT_NOT_ALLOWED, why, proposal)
    if proposal.decision.is_entry and proposal.confidence < s.min_confidence:
        why = (
            f"{LOW_CONFIDENCE}: confidence {proposal.confidence} below {s.min_confidence}; "
            f"{proposal.reasoning}"
        )
        return _no_trade(ctx, s, stamp, info, LOW_CONFIDENCE, why, proposal)
    decision = TradeDecision(**_base(ctx, stamp, info), **_body(ctx, s, proposal))
    return Outcome(decision, proposal, info, reason_code)


def _base(ctx: DecisionContext, stamp: Stamp, info: EngineInfo) -> dict[str, object]:
    llm = info.engine is DecisionEngine.LLM
    return {
        "message_id": stamp.message_id,
        "correlation_id": stamp.correlation_id,
        "causation_id": stamp.causation_id,
        "tenant_id": stamp.tenant_id,
        "occurred_at": ctx.as_of,
        "account_id": ctx.account_id,
        "decision_id": stamp.decision_id,
        "trader_id": ctx.trader_id,
        "symbol": ctx.symbol,
        "timeframe": ctx.timeframe,
        "triggered_by": TriggeredBy.AI_ANALYSIS if llm else TriggeredBy.RULE_ENGINE,
        "engine": info.engine,
        "model": info.model if llm else None,
        "prompt_version": info.prompt_version if llm else None,
        "signal_id": ctx.signal.signal_id if ctx.signal is not None else None,
    }


def _body(ctx: DecisionContext, s: TraderSettings, p: Proposal) -> dict[str, object]:
    body: dict[str, object] = {
        "decision": p.decision,
        "confidence": p.confidence,
        "reasoning": _note(p.reasoning),
    }
    if p.decision.is_entry:
        body |= {
            "entry_price": p.entry_price if p.entry_price is not None else ctx.price,
            "stop_loss": p.stop_loss,
            "risk_fraction": s.risk_fraction,
            "take_profits": tuple(
                TakeProfitLevel(price=tp.price, fraction=tp.fraction) for tp in p.take_profits
            ),
        }
    manages = p.decision in (DecisionKind.CLOSE, DecisionKind.PARTIAL_TP) or p.modifications
    if manages and ctx.position is not None:
        body |= {
            "position_id": ctx.position.position_id,
            "close_fraction": p.close_fraction,
            "modifications": tuple(_modification(m, ctx.position) for m in p.modifications),
        }
    return body


def _modification(m: ProposedModification, pos: OpenPosition) -> Modification:
    previous: Decimal | None = None
    if m.kind is ModificationKind.MOVE_SL:
        previous = pos.stop_loss
    elif (
        m.kind in (ModificationKind.MODIFY_TP, ModificationKind.CANCEL_TP)
        and m.tp_index is not None
    ):
        previous = pos.take_profits[m.tp_index].price
    return Modification(
        kind=m.kind,
        previous_value=previous,
        new_value=m.new_value,
        tp_index=m.tp_index,
        fraction=m.fraction,
        trail_percent=m.trail_percent,
        reason=m.reason,
    )


def _no_trade(
    ctx: DecisionContext,
    s: TraderSettings,
    stamp: Stamp,
    info: EngineInfo,
    code: str,
    why: str,
    proposal: Proposal | None,
    violations: tuple[str, ...] = (),
) -> Outcome:
    confidence = (
        proposal.confidence
        if proposal and Decimal(0) <= proposal.confidence <= 1
        and decimal_problem(proposal.confidence) is None
        else Decimal(0)
    )
    decision = TradeDecision(
        **_base(ctx, stamp, info),
        decision=DecisionKind.NO_TRADE,
        confidence=confidence,
        reasoning=_note(why),
    )
    return Outcome(decision, proposal, info, code, violations)


def rejected_answer(
    ctx: DecisionContext, s: TraderSettings, stamp: Stamp, info: EngineInfo, why: str
) -> Outcome:
    """An answer that does not even parse: NO_TRADE / VALIDATION_FAILED, raw answer kept."""
    return _no_trade(
        ctx, s, stamp, info, VALIDATION_FAILED, f"{VALIDATION_FAILED}: {why}", None, (why,)
    )


def _note(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
