"""TradeDecision (LONG/SHORT) → GateDecision, stored append-only with its inputs."""

from __future__ import annotations

from robson_contracts import TradeDecision
from robson_kit import logs
from robson_kit.uow import UnitOfWork

from robson_entry_gate.domain.gate import evaluate, gate_decision_id, to_message
from robson_entry_gate.domain.killswitch import engage
from robson_entry_gate.domain.projection import record_verdict, roll
from robson_entry_gate.domain.queue import QUEUED, enqueue
from robson_entry_gate.handlers.deps import GateDeps, finish

log = logs.get_logger(__name__)


def is_entry(d: TradeDecision) -> bool:
    """The gate judges entries; HOLDs and management decisions go straight to position."""
    return d.decision.is_entry and d.position_id is None


_READ_AHEAD = "entry_gate.decisions_read_ahead"


async def _read_ahead(uow: UnitOfWork, deps: GateDeps) -> None:
    """Once per batch transaction: which of its decisions were recorded before, and every
    account it judges locked, in one statement each instead of one per decision; a lone
    decision's lookup and lock in one statement."""
    info = uow.session.info
    if info.get(_READ_AHEAD):
        return
    info[_READ_AHEAD] = True
    entries = [m for m in getattr(uow, "batch", ()) if isinstance(m, TradeDecision) and is_entry(m)]
    if not entries:
        return
    if len(entries) == 1:
        [d] = entries
        await deps.log.prefetch_locking(uow, gate_decision_id(d), deps.accounts, d.account_id)
        return
    await deps.log.prefetch(uow, [gate_decision_id(m) for m in entries])
    await deps.accounts.lock_many(uow.session, [m.account_id for m in entries])


async def handle_trade_decision(d: TradeDecision, uow: UnitOfWork, deps: GateDeps) -> None:
    if not is_entry(d):
        return
    await _read_ahead(uow, deps)
    gid = gate_decision_id(d)
    if await deps.log.exists(uow, gid):
        log.info("gate.duplicate_decision", decision_id=d.decision_id)
        return
    state, version = await deps.accounts.lock(uow.session, d.account_id)
    policy = deps.policies.effective(d.account_id, d.trader_id)
    market = deps.market.view
    now = max(d.occurred_at, state.last_event_at or d.occurred_at)
    roll(state, market, policy.account, now)
    verdict = evaluate(d, state, market, policy, now)
    queued = verdict.queueable and enqueue(state, d, now, policy.account)
    record_verdict(state, d, verdict, gid, now)
    message = to_message(d, verdict, gid, now, (QUEUED,) if queued else (),
                         valid_for=policy.account.approval_valid_for)
    if verdict.kill is not None:
        for m in engage(state, verdict.kill, now, d):
            uow.emit(m)
    uow.emit(message)
    deps.log.append(uow, message)
    await finish(uow, deps, state, version, now, d)
