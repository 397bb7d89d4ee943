"""Admin commands: policy updates and unlocking an account."""

from __future__ import annotations

from datetime import datetime

from robson_kit.uow import UnitOfWork

from robson_entry_gate.adapters import decision_log
from robson_entry_gate.domain.killswitch import unlock
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy
from robson_entry_gate.handlers.deps import GateDeps


async def put_account_policy(uow: UnitOfWork, deps: GateDeps, account_id: str,
                             policy: AccountPolicy) -> None:
    await deps.policies.put_account(uow, account_id, policy)
    await decision_log.record_admin(uow.session, account_id, "PUT_POLICY",
                                    policy.model_dump(mode="json"))


async def put_trader_policy(uow: UnitOfWork, deps: GateDeps, account_id: str, trader_id: str,
                            policy: TraderPolicy) -> None:
    await deps.policies.put_trader(uow, account_id, trader_id, policy)
    await decision_log.record_admin(uow.session, account_id, "PUT_TRADER_POLICY",
                                    {"trader_id": trader_id, **policy.model_dump(mode="json")})


async def unlock_account(uow: UnitOfWork, deps: GateDeps, account_id: str, now: datetime,
                         lockout_id: str | None, note: str) -> list[str]:
    """Clears the kill switch and every lockout, or only ``lockout_id``."""
    state, version = await deps.accounts.lock(uow.session, account_id)
    policy = deps.policies.account(account_id)
    at = state.last_event_at or now  # admin actions must not move the event-time calendar
    cleared = unlock(state, at, deps.market.view, policy, lockout_id)
    await decision_log.record_admin(uow.session, account_id, "UNLOCK",
                                    {"cleared": cleared, "note": note, "at": at.isoformat()})
    await deps.accounts.save(uow, state, version)
    return cleared
