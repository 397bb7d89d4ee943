"""The gate: run every rule in order, collect all failures, decide ALLOW or DENY."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from robson_contracts import CheckResult, GateDecision, GateOutcome, TradeDecision, derive_id

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.policy import EffectivePolicy
from robson_entry_gate.domain.rules import (
    POSITION_COUNT_CODES,
    RULES,
    GateContext,
    KillRequest,
    Rule,
)
from robson_entry_gate.domain.state import AccountState, Lockout, Market


@dataclass
class Verdict:
    outcome: GateOutcome
    checks: tuple[CheckResult, ...]
    approved_quantity: Decimal | None
    inputs: dict[str, str]
    lockouts: list[Lockout] = field(default_factory=list)
    kill: KillRequest | None = None
    queueable: bool = False

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.reason_code for c in self.checks if not c.passed and c.reason_code))

    @property
    def allowed(self) -> bool:
        return self.outcome is GateOutcome.ALLOW_ENTRY


def evaluate(decision: TradeDecision, state: AccountState, market: Market,
             policy: EffectivePolicy, now: datetime, rules: Sequence[Rule] = RULES) -> Verdict:
    """Pure: reads the projection, changes nothing. Effects come back in the verdict."""
    figures = Figures(state, market, policy.account, now)
    ctx = GateContext(decision, figures, policy)
    checks = tuple(_run(rule, ctx) for rule in rules)
    failures = [c for c in checks if not c.passed]
    allowed = not failures and ctx.approved_quantity is not None and ctx.approved_quantity > 0
    if not failures and not allowed:
        checks += (CheckResult(rule="gate", passed=False, reason_code="NO_SIZE",
                               message="no rule approved a quantity"),)
    queueable = (bool(failures) and policy.account.queue.enabled
                 and all(c.reason_code in POSITION_COUNT_CODES for c in failures))
    return Verdict(
        outcome=GateOutcome.ALLOW_ENTRY if allowed else GateOutcome.DENY_ENTRY,
        checks=checks,
        approved_quantity=ctx.approved_quantity if allowed else None,
        inputs=_inputs(figures),
        lockouts=ctx.lockouts_to_set,
        kill=ctx.kill,
        queueable=queueable,
    )


def _run(rule: Rule, ctx: GateContext) -> CheckResult:
    """A rule that throws denies: when in doubt, no entry."""
    try:
        return rule.check(ctx)
    except Exception as exc:
        return CheckResult(rule=rule.name, passed=False, reason_code="RULE_ERROR",
                           message=f"rule failed: {type(exc).__name__}: {exc}")


def _inputs(figures: Figures) -> dict[str, str]:
    try:
        return figures.inputs()
    except Exception as exc:  # the inputs are an audit aid; never block on them
        return {"error": f"{type(exc).__name__}: {exc}"}


def gate_decision_id(decision: TradeDecision, attempt: str = "") -> str:
    return str(derive_id("gate-decision", decision.account_id, decision.decision_id, attempt))


def to_message(decision: TradeDecision, verdict: Verdict, gid: str, now: datetime,
               extra_checks: tuple[CheckResult, ...] = (),
               valid_for: timedelta | None = None) -> GateDecision:
    """The published verdict; an approval carries its deadline (``now`` + ``valid_for``)."""
    checks = verdict.checks + extra_checks
    allowed = verdict.outcome is GateOutcome.ALLOW_ENTRY
    return GateDecision(
        **decision.caused(),
        message_id=derive_id("gate-decision-msg", gid),
        occurred_at=now,
        account_id=decision.account_id,
        gate_decision_id=gid,
        outcome=verdict.outcome,
        decision=decision,
        checks=checks,
        reason_codes=tuple(dict.fromkeys(c.reason_code for c in checks
                                         if not c.passed and c.reason_code)),
        approved_quantity=verdict.approved_quantity,
        inputs=verdict.inputs,
        warnings=tuple(dict.fromkeys(c.reason_code for c in checks
                                     if c.passed and c.warning and c.reason_code)),
        expires_at=now + valid_for if allowed and valid_for is not None else None,
    )
