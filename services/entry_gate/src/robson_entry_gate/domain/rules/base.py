"""The rule plugin interface and the context every rule reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from robson_contracts import CheckResult, TradeDecision
from robson_contracts.trusted import built_whole, trusted

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.policy import EffectivePolicy
from robson_entry_gate.domain.state import Lockout, MarketSnapshot


@dataclass
class KillRequest:
    drawdown: Decimal
    equity: Decimal
    peak_equity: Decimal
    limit: Decimal


@dataclass
class GateContext:
    decision: TradeDecision
    figures: Figures
    policy: EffectivePolicy
    lockouts_to_set: list[Lockout] = field(default_factory=list)
    kill: KillRequest | None = None
    approved_quantity: Decimal | None = None

    @property
    def now(self) -> datetime:
        return self.figures.now

    @property
    def market(self) -> MarketSnapshot | None:
        return self.figures.market.get(self.decision.symbol)


class Rule(Protocol):
    name: str

    def check(self, ctx: GateContext) -> CheckResult: ...


built_whole(CheckResult, ("rule", "passed", "reason_code", "message", "details", "warning"))
_PASSED_SET = frozenset(("rule", "passed", "message", "details"))


def passed(rule: str, message: str = "", **details: object) -> CheckResult:
    """``CheckResult(rule=rule, passed=True, message=message, details=…)``, built without
    validation: every rule of every evaluation passes through here, and what it is given is
    the rule's own name and text and values it formats itself."""
    return trusted(CheckResult, {
        "rule": str(rule), "passed": True, "reason_code": None, "message": str(message),
        "details": {k: str(v) for k, v in details.items()}, "warning": False}, set(_PASSED_SET))


def failed(rule: str, reason_code: str, message: str, **details: object) -> CheckResult:
    return CheckResult(rule=rule, passed=False, reason_code=reason_code, message=message,
                       details={k: str(v) for k, v in details.items()})


def warned(rule: str, reason_code: str, message: str, **details: object) -> CheckResult:
    """A passed check that reports a problem without denying (a market check set to warn)."""
    return CheckResult(rule=rule, passed=True, warning=True, reason_code=reason_code,
                       message=message, details={k: str(v) for k, v in details.items()})


def judged(mode: str, rule: str, reason_code: str, message: str, **details: object) -> CheckResult:
    """``failed`` when ``mode`` is "deny", ``warned`` when it is "warn"."""
    make = warned if mode == "warn" else failed
    return make(rule, reason_code, message, **details)


def pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.01'))}%"
