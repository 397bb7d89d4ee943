"""Position, balance and trader events keep the account projections current."""

from __future__ import annotations

from robson_contracts import (
    AccountMessage,
    BalanceSnapshot,
    PositionClosed,
    PositionEntryFailed,
    PositionOpened,
    PositionPartiallyClosed,
    TraderStatusChanged,
)
from robson_kit.uow import UnitOfWork

from robson_entry_gate.domain import projection
from robson_entry_gate.handlers.deps import GateDeps, finish

ADMIN_EVENTS = (BalanceSnapshot, TraderStatusChanged)
"""Stamped with the wall clock when an operator acts (a deposit, a pause): they must not move
the gate's calendar, which market and position events drive (in a replay, event time is far
from wall time; letting these advance it would make every market price look stale)."""


async def handle_account_event(ev: AccountMessage, uow: UnitOfWork, deps: GateDeps) -> None:
    if not isinstance(ev, (PositionOpened, PositionPartiallyClosed, PositionClosed,
                           PositionEntryFailed, BalanceSnapshot, TraderStatusChanged)):
        return  # other position events carry nothing the gate projects
    state, version = await deps.accounts.lock(uow.session, ev.account_id)
    policy = deps.policies.account(ev.account_id)
    market = deps.market.view
    if not isinstance(ev, ADMIN_EVENTS):
        projection.roll(state, market, policy, ev.occurred_at)
    now = state.last_event_at or ev.occurred_at
    freed = False
    match ev:
        case PositionOpened():
            projection.on_opened(state, ev)
        case PositionPartiallyClosed():
            projection.on_partially_closed(state, ev, policy)
        case PositionClosed():
            projection.on_closed(state, ev, policy)
            freed = True
        case PositionEntryFailed():
            projection.on_entry_failed(state, ev)
            freed = True
        case BalanceSnapshot():
            projection.on_snapshot(state, ev, market, policy)
        case TraderStatusChanged():
            projection.on_trader_status(state, ev)
    await finish(uow, deps, state, version, now, ev, slot_freed=freed)
