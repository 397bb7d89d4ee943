"""Rule 5's effects: engage the kill switch (close all, lock, report) and the admin unlock."""

from __future__ import annotations

from datetime import datetime

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
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.rules import KillRequest
from robson_entry_gate.domain.state import AccountState, KillSwitch, Market


def drawdown_breach(state: AccountState, market: Market, policy: AccountPolicy,
                    now: datetime) -> KillRequest | None:
    """The kill switch's own test, run on prices and balances as well as on decisions."""
    cfg = policy.drawdown
    if not cfg.enabled or state.kill_switch is not None:
        return None
    f = Figures(state, market, policy, now)
    if f.drawdown >= cfg.limit:
        return KillRequest(f.drawdown, f.equity, f.peak_equity, cfg.limit)
    return None


def engage(state: AccountState, request: KillRequest, now: datetime,
           cause: Message) -> list[Message]:
    """Lock the account until an admin unlocks it; command position to close everything."""
    if state.kill_switch is not None:
        return []
    message = (f"equity {request.equity} is {request.drawdown:.2%} below its peak "
               f"{request.peak_equity} (limit {request.limit:.0%})")
    state.kill_switch = KillSwitch(engaged_at=now, equity=request.equity,
                                   peak_equity=request.peak_equity, drawdown=request.drawdown,
                                   message=message)
    account = state.account_id
    return [
        CloseAllPositions(
            **cause.caused(), message_id=derive_id("kill-close-all", account, cause.message_id),
            occurred_at=now, account_id=account, reason=ExitReason.KILL_SWITCH,
            triggered_by=TriggeredBy.RULE_ENGINE, note=message,
        ),
        RiskLimitBreached(
            **cause.caused(), message_id=derive_id("kill-breach", account, cause.message_id),
            occurred_at=now, account_id=account, rule="drawdown", reason_code="MAX_DRAWDOWN",
            message=message, value=request.drawdown,
            limit=request.limit, action=RiskAction.CLOSE_ALL, until=None,
            figures={"equity": str(request.equity), "peak_equity": str(request.peak_equity),
                     "drawdown": str(request.drawdown)},
        ),
    ]


def unlock(state: AccountState, now: datetime, market: Market, policy: AccountPolicy,
           lockout_id: str | None = None) -> list[str]:
    """Admin: clear one lockout, or everything including the kill switch. Returns what was
    cleared. After a kill-switch unlock the peak restarts at today's equity, or the switch
    would fire again on the next price."""
    cleared: list[str] = []
    if lockout_id is None and state.kill_switch is not None:
        state.kill_switch = None
        state.peak_equity = Figures(state, market, policy, now).equity
        cleared.append("KILL_SWITCH")
    gone = [lk for lk in state.lockouts if lockout_id is None or lk.lockout_id == lockout_id]
    cleared.extend(lk.lockout_id for lk in gone)
    state.end_lockouts(gone)
    return cleared
