"""Loss limits acting on their own: evaluated on every fill, balance, decision, batch of
prices and clock tick, not only when a new entry is judged.

A breach is reported once per limit and period (day or month): the period's key is kept in
``state.breaches``, so neither a redelivery nor an admin unlock makes it fire again before the
reset. ``deny_new`` publishes ``RiskLimitBreached(action=DENY)`` (the rules deny entries while
the loss stands); ``flatten`` also locks the account until the reset and commands position to
close everything (``CloseAllPositions(reason=RISK_LIMIT)``: exits and cancelled orders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    CloseAllPositions,
    ExitReason,
    Message,
    RiskAction,
    RiskLimitBreached,
    TriggeredBy,
    derive_id,
)

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.policy import AccountPolicy, BreachAction
from robson_entry_gate.domain.rules.base import pct
from robson_entry_gate.domain.state import AccountState, Lockout, Market


@dataclass(frozen=True)
class Breach:
    rule: str
    reason_code: str
    period: str
    loss: Decimal
    limit: Decimal
    action: BreachAction
    until: datetime


def breaches(f: Figures) -> list[Breach]:
    """The loss limits ``f`` breaches that have not been reported in their period yet."""
    p, out = f.policy, []
    if p.daily_loss.enabled and -f.day_pnl_pct >= p.daily_loss.limit:
        out.append(Breach("daily_loss", "DAILY_LOSS_LIMIT", f"day:{f.day_key}", -f.day_pnl_pct,
                          p.daily_loss.limit, p.daily_loss.action, f.calendar.next_reset(f.now)))
    if p.monthly_loss.enabled and -f.month_pnl_pct >= p.monthly_loss.limit:
        out.append(Breach("monthly_loss", "MONTHLY_LOSS_LIMIT", f"month:{f.month_key}",
                          -f.month_pnl_pct, p.monthly_loss.limit, p.monthly_loss.action,
                          _next_month_reset(f)))
    return [b for b in out if b.period not in f.state.breaches]


def enforce(state: AccountState, market: Market, policy: AccountPolicy, now: datetime,
            cause: Message | None) -> list[Message]:
    """Record and act on every new breach; the messages to publish (ids derived from the
    account and period, so a replayed cause publishes nothing new)."""
    if state.kill_switch is not None:
        return []
    f = Figures(state, market, policy, now)
    found = breaches(f)
    if not found:
        return []
    figures = f.inputs()
    trace = cause.caused() if cause is not None else {}
    out: list[Message] = []
    for b in found:
        state.breaches.append(b.period)
        flatten = b.action is BreachAction.FLATTEN
        message = (f"{b.rule.replace('_', ' ')} {pct(b.loss)} reached the limit {pct(b.limit)}: "
                   + (f"flattened and locked until {b.until.isoformat()}" if flatten
                      else "new entries denied"))
        if flatten:
            state.lockouts.append(Lockout(
                lockout_id=str(derive_id("lockout", state.account_id, b.reason_code, b.period)),
                reason_code=b.reason_code, message=message, set_at=now, until=b.until,
                daily=b.rule == "daily_loss"))
            out.append(CloseAllPositions(
                **trace, occurred_at=now, account_id=state.account_id,
                message_id=derive_id("breach-close-all", state.account_id, b.period),
                reason=ExitReason.RISK_LIMIT, triggered_by=TriggeredBy.RULE_ENGINE,
                note=message))
        out.append(RiskLimitBreached(
            **trace, occurred_at=now, account_id=state.account_id,
            message_id=derive_id("breach", state.account_id, b.period),
            rule=b.rule, reason_code=b.reason_code, message=message, value=b.loss,
            limit=b.limit, action=RiskAction.CLOSE_ALL if flatten else RiskAction.DENY,
            until=b.until, figures=figures))
    return out


def _next_month_reset(f: Figures) -> datetime:
    at = f.calendar.next_reset(f.now)
    while f.calendar.month_key(at) == f.month_key:
        at = f.calendar.next_reset(at)
    return at
