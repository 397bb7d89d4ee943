"""Bus messages as the platform's services publish them."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_contracts import (
    CheckResult,
    DeadLetter,
    DecisionKind,
    ExitReason,
    GateDecision,
    GateOutcome,
    PositionClosed,
    PositionOpened,
    RiskAction,
    RiskLimitBreached,
    TakeProfitLevel,
    TradeDecision,
)
from robson_contracts.types import PositionSide

D = Decimal
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(pid: str = "p1", account: str = "acc1", when: datetime = T0,
           decision_id: str | None = None) -> PositionOpened:
    return PositionOpened(
        correlation_id=uuid.uuid4(), occurred_at=when, account_id=account, position_id=pid,
        trader_id="t1", symbol="BTCUSDT", side=PositionSide.LONG, quantity=D("0.05"),
        entry_price=D("60000"), stop_loss=D("59000"),
        take_profits=(TakeProfitLevel(price=D("62000"), fraction=D("1")),),
        initial_risk=D("50"), fees=D("3"), decision_id=decision_id)


def closed(pid: str = "p1", account: str = "acc1", pnl: str = "94.5",
           when: datetime | None = None) -> PositionClosed:
    return PositionClosed(
        correlation_id=uuid.uuid4(), occurred_at=when or at(3600), account_id=account,
        position_id=pid, trader_id="t1", symbol="BTCUSDT", side=PositionSide.LONG,
        quantity=D("0.05"), entry_price=D("60000"), exit_price=D("62000"), realized_pnl=D(pnl),
        fees=D("5.5"), exit_reason=ExitReason.TAKE_PROFIT, r_multiple=D("1.89"),
        opened_at=T0, holding_seconds=3600)


def breach(account: str = "acc1", n: int = 0) -> RiskLimitBreached:
    return RiskLimitBreached(
        correlation_id=uuid.uuid4(), occurred_at=at(n), account_id=account, rule="daily_loss",
        reason_code="DAILY_LOSS_LIMIT", message=f"daily loss 3.1% over 3% ({n})",
        value=D("0.031"), limit=D("0.03"), action=RiskAction.LOCK_ACCOUNT)


def denial(n: int, account: str = "acc1") -> GateDecision:
    decision = TradeDecision(
        correlation_id=uuid.uuid4(), occurred_at=at(n), account_id=account, decision_id=f"d{n}",
        trader_id="t1", symbol="ETHUSDT", decision=DecisionKind.LONG, confidence=D("0.8"))
    return GateDecision(
        correlation_id=uuid.uuid4(), occurred_at=at(n), account_id=account,
        gate_decision_id=f"g{n}", outcome=GateOutcome.DENY_ENTRY, decision=decision,
        checks=(CheckResult(rule="cooldown", passed=False, reason_code="COOLDOWN",
                            message="cooling down"),), reason_codes=("COOLDOWN",))


def entry_decision(decision_id: str, reasoning: str) -> TradeDecision:
    return TradeDecision(
        correlation_id=uuid.uuid4(), occurred_at=T0, account_id="acc1", decision_id=decision_id,
        trader_id="t1", symbol="BTCUSDT", decision=DecisionKind.LONG, confidence=D("0.8"),
        reasoning=reasoning)


def dead_letter(secret_payload: str = "apikey=SUPERSECRET") -> DeadLetter:
    return DeadLetter(
        correlation_id=uuid.uuid4(), occurred_at=T0, service="position", consumer="position_orders",
        subject="robson.order.evt.acc1.BTCUSDT", reason_code="INVALID_MESSAGE",
        reason="fill.price: Input should be a valid decimal",
        payload_b64=base64.b64encode(secret_payload.encode()).decode(),
        headers={"Authorization": "Bearer SUPERSECRET"})
