"""What handlers need, injected by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from robson_contracts import Message
from robson_kit.uow import UnitOfWork

from robson_entry_gate.adapters import decision_log
from robson_entry_gate.adapters.accounts import AccountStore
from robson_entry_gate.adapters.market import MarketStore
from robson_entry_gate.adapters.policies import PolicyStore
from robson_entry_gate.domain.ended import EXPIRED, lockout_ended
from robson_entry_gate.domain.enforce import enforce
from robson_entry_gate.domain.killswitch import drawdown_breach, engage
from robson_entry_gate.domain.queue import drain
from robson_entry_gate.domain.state import AccountState, Market
from robson_entry_gate.domain.watch import EquityMemo


@dataclass
class GateDeps:
    accounts: AccountStore = field(default_factory=AccountStore)
    market: MarketStore = field(default_factory=MarketStore)
    policies: PolicyStore = field(default_factory=PolicyStore)
    equity: EquityMemo = field(default_factory=EquityMemo)
    """Kill-switch watch: each account's equity at the committed market view."""
    log: decision_log.DecisionLog = field(default_factory=decision_log.DecisionLog)

    async def load(self, uow: UnitOfWork) -> None:
        await self.accounts.load_all(uow.session)
        await self.market.load_all(uow.session)
        await self.policies.load_all(uow.session)


async def finish(uow: UnitOfWork, deps: GateDeps, state: AccountState, version: int,
                 now: datetime, cause: Message | None, market: Market | None = None,
                 slot_freed: bool = False, deferred: bool = True) -> None:
    """After any change to an account: run the kill-switch test and the loss limits, serve
    the queue, save (once
    per transaction, before commit, unless ``deferred`` is false)."""
    view = market if market is not None else deps.market.view
    policy = deps.policies.account(state.account_id)
    for lk in state.take_ended():  # expired while the event time moved on (see ``roll``)
        uow.emit(lockout_ended(state.account_id, lk, now, EXPIRED, cause=cause))
    request = drawdown_breach(state, view, policy, now)
    if request is not None and cause is not None:
        for message in engage(state, request, now, cause):
            uow.emit(message)
    for message in enforce(state, view, policy, now, cause):
        uow.emit(message)
    if slot_freed and state.queue:
        def policy_for(trader_id: str):
            return deps.policies.effective(state.account_id, trader_id)

        for item in drain(state, view, policy_for, policy, now):
            if not await deps.log.exists(uow, item.message.gate_decision_id):
                uow.emit(item.message)
                deps.log.append(uow, item.message)
    await deps.accounts.save(uow, state, version, deferred)
