"""Applying events to an account's projection. Event time (``occurred_at``) drives it all."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from robson_contracts import (
    BalanceSnapshot,
    ExitReason,
    PositionClosed,
    PositionEntryFailed,
    PositionOpened,
    PositionPartiallyClosed,
    TradeDecision,
    TraderStatusChanged,
)

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.gate import Verdict
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.state import (
    AccountState,
    EntryStamp,
    Lockout,
    Market,
    OpenPosition,
    PendingEntry,
)

ZERO = Decimal(0)
KEEP_ENTRIES = timedelta(days=2)


def roll(state: AccountState, market: Market, policy: AccountPolicy, at: datetime) -> None:
    """Start a new trading day/month when ``at`` crosses a reset; prune what has expired."""
    if state.last_event_at is not None and at < state.last_event_at:
        at = state.last_event_at  # late events never move the calendar backwards
    f = Figures(state, market, policy, at)
    if state.month_key != f.month_key:
        state.month_key, state.month_start_capital = f.month_key, _carry(state, market, f.equity)
        state.realized_by_month = {k: v for k, v in state.realized_by_month.items()
                                   if k >= _months_back(f.month_key)}
    if state.day_key != f.day_key:
        state.day_key, state.day_start_capital = f.day_key, f.equity
        state.day_start_unrealized = f.unrealized
        state.end_lockouts([lk for lk in state.lockouts if lk.daily])
        state.realized_by_day = {k: v for k, v in state.realized_by_day.items()
                                 if k[:7] >= _months_back(f.month_key)}
    state.end_lockouts([lk for lk in state.lockouts if not lk.active(at)])
    current = (f"day:{state.day_key}", f"month:{state.month_key}")
    state.breaches = [b for b in state.breaches if b in current]
    state.entries = [e for e in state.entries if at - e.at < KEEP_ENTRIES]
    state.last_event_at = at


def _carry(state: AccountState, market: Market, equity: Decimal) -> Decimal:
    """Month start: positions carried in keep their open loss in the new month's capital
    (their baseline becomes today's mark), their open gain out of it (baseline stays at
    entry), so each counts once and a gain never enlarges the month's budget."""
    gains = ZERO
    for p in state.positions.values():
        snap = market.get(p.symbol)
        mark = snap.mark if snap is not None else None
        if mark is None:
            continue
        pnl = (mark - p.baseline) * p.quantity * p.sign
        if pnl < 0:
            p.baseline_price = mark
        else:
            gains += pnl
    state.positions_changed()
    return equity - gains


def _months_back(month_key: str, months: int = 2) -> str:
    year, month = int(month_key[:4]), int(month_key[5:7]) - months
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def record_verdict(state: AccountState, decision: TradeDecision, verdict: Verdict, gid: str,
                   now: datetime) -> None:
    for lockout in verdict.lockouts:
        add_lockout(state, lockout, now)
    if not verdict.allowed or verdict.approved_quantity is None:
        return
    risk = next((c.details.get("risk") for c in verdict.checks if c.rule == "risk_per_trade"), "0")
    entry = next((c.details.get("entry_price") for c in verdict.checks
                  if c.rule == "risk_per_trade"), None)
    state.pending[gid] = PendingEntry(
        gate_decision_id=gid, decision_id=decision.decision_id, trader_id=decision.trader_id,
        symbol=decision.symbol, side=decision.decision.value, quantity=verdict.approved_quantity,
        entry_price=Decimal(entry or decision.entry_price or 0), risk=Decimal(risk or 0),
        allowed_at=now,
    )
    state.entries.append(EntryStamp(at=now, trader_id=decision.trader_id, symbol=decision.symbol))


def add_lockout(state: AccountState, lockout: Lockout, now: datetime) -> bool:
    """Add unless the same lockout, or an active one with the same reason, exists."""
    for lk in state.lockouts:
        if lk.lockout_id == lockout.lockout_id or (
            lk.reason_code == lockout.reason_code and lk.active(now)
            and lk.scope == lockout.scope and lk.key == lockout.key
        ):
            return False
    state.lockouts.append(lockout)
    return True


def on_opened(state: AccountState, ev: PositionOpened) -> None:
    state.positions[ev.position_id] = OpenPosition(
        position_id=ev.position_id, trader_id=ev.trader_id, symbol=ev.symbol, side=ev.side,
        quantity=ev.quantity, entry_price=ev.entry_price, stop_loss=ev.stop_loss,
        initial_risk=ev.initial_risk, opened_at=ev.occurred_at,
    )
    state.positions_changed()
    _resolve_pending(state, ev.gate_decision_id, ev.decision_id)


def on_entry_failed(state: AccountState, ev: PositionEntryFailed) -> None:
    _resolve_pending(state, ev.gate_decision_id, None)
    state.positions.pop(ev.position_id, None)
    state.positions_changed()


def release_pending(state: AccountState, gid: str) -> None:
    """An approval position will never act on (its message was dead-lettered there)."""
    _resolve_pending(state, gid, None)


def _resolve_pending(state: AccountState, gid: str | None, decision_id: str | None) -> None:
    for key, p in list(state.pending.items()):
        if (gid and p.gate_decision_id == gid) or (decision_id and p.decision_id == decision_id):
            del state.pending[key]


def on_partially_closed(state: AccountState, ev: PositionPartiallyClosed,
                        policy: AccountPolicy) -> None:
    pos = state.positions.get(ev.position_id)
    carried = ZERO
    if pos is not None:
        carried = _carried(pos, pos.quantity - ev.remaining_quantity)
        _exit_in_snapshot(state, pos, pos.quantity - ev.remaining_quantity, ev.occurred_at)
        pos.quantity = ev.remaining_quantity
        state.positions_changed()
        _add_realized(state, ev.position_id, ev.realized_pnl)
    _book(state, ev.realized_pnl, ev.occurred_at, policy, carried)
    _loss_exit(state, ev.exit_reason, ev.realized_pnl, ev.symbol, ev.occurred_at, policy)


def on_closed(state: AccountState, ev: PositionClosed, policy: AccountPolicy) -> None:
    booked = state.booked_partials.pop(ev.position_id, ZERO)
    pos = state.positions.pop(ev.position_id, None)
    if pos is not None:
        _exit_in_snapshot(state, pos, pos.quantity, ev.occurred_at)
    state.positions_changed()
    carried = _carried(pos, pos.quantity) if pos is not None else ZERO
    _book(state, ev.realized_pnl - booked, ev.occurred_at, policy, carried)
    _loss_exit(state, ev.exit_reason, ev.realized_pnl - booked, ev.symbol, ev.occurred_at, policy)


def _carried(pos: OpenPosition, quantity: Decimal) -> Decimal:
    """The open loss of ``quantity`` already counted in the month-start capital (≤ 0)."""
    return (pos.baseline - pos.entry_price) * quantity * pos.sign


def _exit_in_snapshot(state: AccountState, pos: OpenPosition, quantity: Decimal,
                      at: datetime) -> None:
    """An exit the latest snapshot already holds as cash (the venue reports its balances with
    the fill, before the position service reports the close): its open P&L at that snapshot
    must leave ``unrealized_at_snapshot`` too, or equity would count it twice."""
    if state.equity_at is None or at > state.equity_at:
        return
    mark = state.marks_at_snapshot.get(pos.symbol)
    if mark is not None and quantity > 0:
        part = pos.model_copy(update={"quantity": quantity})
        state.unrealized_at_snapshot -= part.unrealized(mark)


def _add_realized(state: AccountState, position_id: str, pnl: Decimal) -> None:
    state.booked_partials[position_id] = state.booked_partials.get(position_id, ZERO) + pnl


def _book(state: AccountState, pnl: Decimal, at: datetime, policy: AccountPolicy,
          carried: Decimal = ZERO) -> None:
    from robson_entry_gate.domain.figures import calendar_of

    cal = calendar_of(policy)
    if state.last_event_at is not None and at < state.last_event_at:
        # A late report (another stream already rolled the day): its P&L goes to the current
        # day/month, where its open P&L at the reset sits in the day's start (and a carried
        # loss in the month's capital); booked to its own past day it would leave today's
        # P&L with the opposite of that open P&L, a phantom gain for a carried loss.
        at = state.last_event_at
    day, month = cal.day_key(at), cal.month_key(at)
    state.realized_total = state.realized() + pnl  # before the months' books take this one
    state.realized_by_day[day] = state.realized_by_day.get(day, ZERO) + pnl
    state.realized_by_month[month] = state.realized_by_month.get(month, ZERO) + pnl - carried


def _loss_exit(state: AccountState, reason: ExitReason, pnl: Decimal, symbol: str, at: datetime,
               policy: AccountPolicy) -> None:
    """A losing exit for one of the configured reasons starts the loss cooldown."""
    if pnl >= 0 or reason.value not in policy.stopout_cooldown.reasons:
        return
    if state.last_stopout_at is None or at > state.last_stopout_at:
        state.last_stopout_at = at
    prev = state.last_stopout_by_symbol.get(symbol)
    if prev is None or at > prev:
        state.last_stopout_by_symbol[symbol] = at


def on_snapshot(state: AccountState, ev: BalanceSnapshot, market: Market,
                policy: AccountPolicy) -> None:
    if state.equity_at is not None and ev.occurred_at < state.equity_at:
        return  # an older snapshot than the one we hold
    quote = next((b for b in ev.balances if b.asset == ev.quote_asset), None)
    equity = ev.equity if ev.equity is not None else (quote.free + quote.locked if quote else ZERO)
    first = state.equity is None
    state.unrealized_at_snapshot = Figures(state, market, policy, ev.occurred_at).unrealized
    state.marks_at_snapshot = {
        symbol: mark for symbol in state.aggregates()[0]
        if (snap := market.get(symbol)) is not None and (mark := snap.mark) is not None}
    # Before the calendar has started (no market or position event yet) a snapshot's stamp is
    # an operator's wall clock (the account set up before a replay): it orders nothing, or a
    # replay's own snapshots, stamped in event time, would all look older and be ignored.
    state.equity = equity
    state.equity_at = ev.occurred_at if state.last_event_at is not None else None
    state.free_quote = quote.free if quote else ZERO
    if first:  # the default capital was a stand-in: the venue's first figure is the base
        state.day_start_capital = state.month_start_capital = equity
        state.peak_equity = equity
    state.peak_equity = max(state.peak_equity or ZERO, equity)


def on_trader_status(state: AccountState, ev: TraderStatusChanged) -> None:
    if ev.paused:
        state.paused_traders[ev.trader_id] = ev.reason
    else:
        state.paused_traders.pop(ev.trader_id, None)
