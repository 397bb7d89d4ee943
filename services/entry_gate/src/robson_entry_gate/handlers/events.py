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


PROJECTED = (PositionOpened, PositionPartiallyClosed, PositionClosed, PositionEntryFailed,
             BalanceSnapshot, TraderStatusChanged)
_LOCKED_AHEAD = "entry_gate.events_locked_ahead"


async def _lock_ahead(uow: UnitOfWork, deps: GateDeps) -> None:
    """Once per batch transaction: every account its events touch, locked in one statement
    and in id order (each ``lock`` then costs nothing), as a batch of decisions does."""
    info = uow.session.info
    if info.get(_LOCKED_AHEAD):
        return
    info[_LOCKED_AHEAD] = True
    await deps.accounts.lock_many(uow.session, [m.account_id for m in getattr(uow, "batch", ())
                                                if isinstance(m, PROJECTED)])


async def handle_account_event(ev: AccountMessage, uow: UnitOfWork, deps: GateDeps) -> None:
    if not isinstance(ev, PROJECTED):
        return  # other position events carry nothing the gate projects
    await _lock_ahead(uow, deps)
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
