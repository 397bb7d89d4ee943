"""Admin commands: policy updates and unlocking an account."""

from __future__ import annotations

from datetime import datetime

from robson_kit.uow import UnitOfWork

from robson_entry_gate.adapters import decision_log
from robson_entry_gate.domain.ended import ADMIN_UNLOCK, kill_switch_ended, lockout_ended
from robson_entry_gate.domain.killswitch import unlock
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy, inconsistencies
from robson_entry_gate.handlers.deps import GateDeps


class InconsistentPolicy(ValueError):
    """A policy that would break the monthly bound; ``problems`` are (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


def _trader_problems(account: AccountPolicy, trader_id: str,
                     trader: TraderPolicy) -> list[tuple[str, str]]:
    if trader.risk_per_trade is None:
        return []
    who = f"traders.{trader_id}.risk_per_trade"
    return [(who, m) for m in inconsistencies(account, trader.risk_per_trade, who)
            if m.startswith("concurrency.unit")]


async def put_account_policy(uow: UnitOfWork, deps: GateDeps, account_id: str,
                             policy: AccountPolicy) -> None:
    problems = [p for trader_id, trader in deps.policies.traders_of(account_id)
                for p in _trader_problems(policy, trader_id, trader)]
    if problems:
        raise InconsistentPolicy(problems)
    await deps.policies.put_account(uow, account_id, policy)
    await decision_log.record_admin(uow.session, account_id, "PUT_POLICY",
                                    policy.model_dump(mode="json"))


async def put_trader_policy(uow: UnitOfWork, deps: GateDeps, account_id: str, trader_id: str,
                            policy: TraderPolicy) -> None:
    problems = _trader_problems(deps.policies.account(account_id), trader_id, policy)
    if problems:
        raise InconsistentPolicy([("risk_per_trade", m) for _, m in problems])
    await deps.policies.put_trader(uow, account_id, trader_id, policy)
    await decision_log.record_admin(uow.session, account_id, "PUT_TRADER_POLICY",
                                    {"trader_id": trader_id, **policy.model_dump(mode="json")})


async def unlock_account(uow: UnitOfWork, deps: GateDeps, account_id: str, now: datetime,
                         lockout_id: str | None, note: str, by: str = "") -> list[str]:
    """Clears the kill switch and every lockout, or only ``lockout_id``; each one cleared is
    announced (RiskLockoutEnded, ADMIN_UNLOCK, ``by`` the admin when known)."""
    state, version = await deps.accounts.lock(uow.session, account_id)
    policy = deps.policies.account(account_id)
    at = state.last_event_at or now  # admin actions must not move the event-time calendar
    kill = state.kill_switch
    cleared = unlock(state, at, deps.market.view, policy, lockout_id)
    if kill is not None and state.kill_switch is None:
        uow.emit(kill_switch_ended(account_id, kill, now, by))
    for lk in state.take_ended():
        uow.emit(lockout_ended(account_id, lk, now, ADMIN_UNLOCK, by))
    await decision_log.record_admin(uow.session, account_id, "UNLOCK",
                                    {"cleared": cleared, "note": note, "at": at.isoformat()})
    await deps.accounts.save(uow, state, version)
    return cleared
