"""RiskLockoutEnded: a lockout or the kill switch stopped blocking entries.

The id derives from what ended (account, lockout, when it was set), not from why, so a
lockout that an admin clears and that would also have expired is announced once, and a
redelivered event or a replay announces nothing new."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import Message, derive_id
from robson_contracts.alerts import RiskLockoutEnded

from robson_entry_gate.domain.state import KillSwitch, Lockout

EXPIRED = "EXPIRED"
ADMIN_UNLOCK = "ADMIN_UNLOCK"
KILL_SWITCH = "KILL_SWITCH"


def _tracing(cause: Message | None) -> dict[str, object]:
    return cause.caused() if cause is not None else {}


def lockout_ended(account_id: str, lk: Lockout, at: datetime, reason: str,
                  by: str = "", cause: Message | None = None) -> RiskLockoutEnded:
    return RiskLockoutEnded(
        **_tracing(cause),
        message_id=derive_id("lockout-ended", account_id, lk.lockout_id, lk.set_at.isoformat()),
        occurred_at=at, account_id=account_id, lockout_id=lk.lockout_id,
        rule=lk.reason_code, reason=reason, by=by,
    )


def kill_switch_ended(account_id: str, kill: KillSwitch, at: datetime,
                      by: str = "") -> RiskLockoutEnded:
    return RiskLockoutEnded(
        message_id=derive_id("lockout-ended", account_id, KILL_SWITCH,
                             kill.engaged_at.isoformat()),
        occurred_at=at, account_id=account_id, lockout_id=KILL_SWITCH, rule="drawdown",
        kill_switch=True, reason=ADMIN_UNLOCK, by=by,
    )
