"""A template per event kind: bus message → Notice (or None when nobody is told)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robson_contracts import (
    AccountModeChanged,
    DeadLetter,
    DecisionAwaitingApproval,
    GateDecision,
    GateOutcome,
    Message,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
    PositionModificationRejected,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
    ReconciliationCompleted,
    RiskAction,
    RiskLimitBreached,
    RiskLockoutEnded,
    TraderStatusChanged,
    VenueStatus,
    VenueStatusChanged,
    subjects,
)

from robson_notify.domain.fmt import CENT, clip, money, num
from robson_notify.domain.model import KINDS, Notice

Render = tuple[str, str, str, dict[str, Any]]
"""kind, title, text, data."""


def notice_for(message: Message, reasoning: str = "") -> Notice | None:
    render = _TEMPLATES.get(type(message))
    if render is None:
        return None
    rendered = render(message, reasoning) if type(message) is PositionOpened else render(message)
    if rendered is None:
        return None
    kind, title, text, data = rendered
    # a dead letter is about the account its message's subject names: routes scoped to accounts
    # see only their own accounts' dead letters
    account = (subjects.account_of(message.subject) if isinstance(message, DeadLetter)
               else getattr(message, "account_id", None))
    return Notice(event_id=message.message_id, kind=kind, severity=KINDS[kind],
                  account_id=account, title=title, text=text,
                  occurred_at=message.occurred_at, data=data)


def _opened(m: PositionOpened, reasoning: str) -> Render:
    tps = ", ".join(f"{num(tp.price)} ({num(tp.fraction * 100)}%)" for tp in m.take_profits) or "none"
    lines = [f"{m.side.value} {num(m.quantity)} {m.symbol} at {num(m.entry_price)}",
             f"stop {num(m.stop_loss)} · take-profits {tps}",
             f"risk {money(m.initial_risk)} · fees {num(m.fees)}"]
    if reasoning:
        lines.append(f"why: {clip(reasoning)}")
    return ("position.opened", f"[{m.account_id}] opened {m.side.value} {m.symbol}", "\n".join(lines),
            {"position_id": m.position_id, "symbol": m.symbol, "side": m.side.value,
             "quantity": num(m.quantity), "entry_price": num(m.entry_price),
             "stop_loss": num(m.stop_loss) if m.stop_loss else None,
             "take_profits": [num(tp.price) for tp in m.take_profits],
             "initial_risk": num(m.initial_risk), "reasoning": clip(reasoning) if reasoning else ""})


def _modified(m: PositionModified) -> Render:
    mod = m.modification
    what = mod.kind.value.replace("_", " ").lower()
    return ("position.modified", f"[{m.account_id}] {m.symbol} {what}",
            f"{what}: {num(mod.previous_value)} → {num(mod.new_value)} by {m.triggered_by.value}"
            + (f"\n{clip(mod.reason)}" if mod.reason else ""),
            {"position_id": m.position_id, "symbol": m.symbol, "modification": mod.kind.value,
             "old": num(mod.previous_value), "new": num(mod.new_value),
             "triggered_by": m.triggered_by.value})


def _mod_rejected(m: PositionModificationRejected) -> Render:
    why = "; ".join(v.message for v in m.violations[:5])
    return ("position.modification_rejected", f"[{m.account_id}] {m.symbol} change refused",
            f"{m.modification.kind.value} by {m.triggered_by.value} refused: {clip(why)}",
            {"position_id": m.position_id, "symbol": m.symbol,
             "violations": [v.name for v in m.violations]})


def _partial(m: PositionPartiallyClosed) -> Render:
    return ("position.partially_closed", f"[{m.account_id}] {m.symbol} partly closed",
            f"closed {num(m.closed_quantity)} at {num(m.exit_price)} ({m.exit_reason.value}), "
            f"{num(m.remaining_quantity)} left · P&L {money(m.realized_pnl)}",
            {"position_id": m.position_id, "symbol": m.symbol, "side": m.side.value,
             "closed_quantity": num(m.closed_quantity), "exit_price": num(m.exit_price),
             "remaining_quantity": num(m.remaining_quantity), "realized_pnl": num(m.realized_pnl),
             "exit_reason": m.exit_reason.value})


def _closed(m: PositionClosed) -> Render:
    r = f" · {num(m.r_multiple.quantize(CENT))} R" if m.r_multiple is not None else ""
    hours = m.holding_seconds / 3600
    return ("position.closed", f"[{m.account_id}] closed {m.side.value} {m.symbol}: {money(m.realized_pnl)}",
            f"{num(m.quantity)} {m.symbol} {num(m.entry_price)} → {num(m.exit_price)} "
            f"({m.exit_reason.value}) · P&L {money(m.realized_pnl)}{r} · held {hours:.1f} h",
            {"position_id": m.position_id, "symbol": m.symbol, "side": m.side.value,
             "quantity": num(m.quantity), "entry_price": num(m.entry_price),
             "exit_price": num(m.exit_price), "realized_pnl": num(m.realized_pnl),
             "fees": num(m.fees), "exit_reason": m.exit_reason.value,
             "r_multiple": num(m.r_multiple) if m.r_multiple is not None else None})


def _entry_failed(m: PositionEntryFailed) -> Render:
    return ("position.entry_failed", f"[{m.account_id}] {m.symbol} entry {m.status.value.lower()}",
            f"{m.reason_code}: {clip(m.message)}",
            {"position_id": m.position_id, "symbol": m.symbol, "reason_code": m.reason_code})


def _pos_error(m: PositionError) -> Render:
    return ("position.error", f"[{m.account_id}] position error {m.reason_code}", clip(m.message),
            {"position_id": m.position_id, "reason_code": m.reason_code})


def _trader(m: TraderStatusChanged) -> Render:
    kind = "trader.paused" if m.paused else "trader.resumed"
    return (kind, f"[{m.account_id}] trader {m.trader_id} {'paused' if m.paused else 'resumed'}",
            clip(m.reason) or "-", {"trader_id": m.trader_id, "paused": m.paused})


def _gate(m: GateDecision) -> Render | None:
    if m.outcome is not GateOutcome.DENY_ENTRY:
        return None
    d = m.decision
    codes = ", ".join(m.reason_codes) or "-"
    return ("gate.denied", f"[{m.account_id}] {d.decision.value} {d.symbol} denied",
            f"denied by the gate: {codes}", {"symbol": d.symbol, "reason_codes": list(m.reason_codes)})


def _breach(m: RiskLimitBreached) -> Render:
    kill = m.action is RiskAction.CLOSE_ALL
    kind = "risk.kill_switch" if kill else "risk.breached"
    title = (f"[{m.account_id}] KILL SWITCH: closing every position" if kill
             else f"[{m.account_id}] risk limit breached: {m.rule}")
    return (kind, title,
            f"{m.reason_code}: {clip(m.message)} (value {num(m.value)}, limit {num(m.limit)}) → {m.action.value}",
            {"rule": m.rule, "reason_code": m.reason_code, "value": num(m.value),
             "limit": num(m.limit), "action": m.action.value})


def _lockout_ended(m: RiskLockoutEnded) -> Render:
    kind = "risk.kill_switch_reset" if m.kill_switch else "risk.lockout_ended"
    what = "kill switch reset" if m.kill_switch else f"lockout {m.rule} ended"
    by = f" by {m.by}" if m.by else ""
    return (kind, f"[{m.account_id}] {what}", f"{m.reason.lower().replace('_', ' ')}{by}; entries allowed again",
            {"rule": m.rule, "lockout_id": m.lockout_id, "reason": m.reason})


def _pending(m: DecisionAwaitingApproval) -> Render:
    window = (f"published at {m.expires_at:%Y-%m-%d %H:%M:%S} UTC unless rejected" if m.expires_at
              else "waits until approved or rejected")
    return ("decision.pending_approval", f"[{m.account_id}] {m.decision.value} {m.symbol} awaits approval",
            f"{window}\nconfidence {num(m.confidence)} · {clip(m.reasoning) or '-'}\n"
            f"approve: robson approve {m.decision_id} · reject: robson reject {m.decision_id}",
            {"decision_id": m.decision_id, "symbol": m.symbol, "decision": m.decision.value,
             "expires_at": m.expires_at.isoformat() if m.expires_at else None})


_VENUE = {VenueStatus.UNREACHABLE: ("venue.down", "unreachable"),
          VenueStatus.REACHABLE: ("venue.up", "reachable again"),
          VenueStatus.CIRCUIT_OPEN: ("venue.circuit_open", "circuit breaker OPEN"),
          VenueStatus.CIRCUIT_CLOSED: ("venue.circuit_closed", "circuit breaker closed")}


def _venue(m: VenueStatusChanged) -> Render:
    kind, what = _VENUE[m.status]
    where = f" {m.symbol}" if m.symbol else ""
    return (kind, f"[{m.account_id}] {m.venue}{where} {what}", clip(m.detail) or "-",
            {"venue": m.venue, "status": m.status.value, "symbol": m.symbol})


def _reconciliation(m: ReconciliationCompleted) -> Render | None:
    if m.ok:
        return None
    items = "; ".join(f"{i.kind} {i.order_id or ''} → {i.action}" for i in m.items[:10])
    return ("reconciliation.mismatch", f"[{m.account_id}] reconciliation found differences",
            clip(items or "mismatch", 600), {"items": len(m.items), "trigger": m.trigger})


def _mode(m: AccountModeChanged) -> Render:
    return ("account.mode_changed", f"[{m.account_id}] now trades {m.mode.value}",
            clip(m.reason) or "-", {"mode": m.mode.value, "testnet": m.testnet})


def _dead_letter(m: DeadLetter) -> Render:
    # never the payload or headers: they may carry anything
    return ("dlq.dead_letter", f"dead letter in {m.service}/{m.consumer}",
            f"{m.reason_code}: {clip(m.reason)}\nsubject {m.subject}, delivered {m.delivered_count}×",
            {"service": m.service, "consumer": m.consumer, "subject": m.subject,
             "reason_code": m.reason_code})


_TEMPLATES: dict[type, Callable[..., Render | None]] = {
    PositionOpened: _opened, PositionModified: _modified,
    PositionModificationRejected: _mod_rejected, PositionPartiallyClosed: _partial,
    PositionClosed: _closed, PositionEntryFailed: _entry_failed, PositionError: _pos_error,
    TraderStatusChanged: _trader, GateDecision: _gate, RiskLimitBreached: _breach,
    RiskLockoutEnded: _lockout_ended, DecisionAwaitingApproval: _pending,
    VenueStatusChanged: _venue, ReconciliationCompleted: _reconciliation,
    AccountModeChanged: _mode, DeadLetter: _dead_letter,
}
