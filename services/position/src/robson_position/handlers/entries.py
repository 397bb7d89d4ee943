"""GateDecision ALLOW_ENTRY → a PENDING_ENTRY position and its bracket order."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import GateDecision, GateOutcome, PositionEntryFailed, PositionStatus
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import Positions, positions_of
from robson_position.domain.lifecycle import open_position
from robson_position.domain.orders import position_id_for
from robson_position.domain.position import Position
from robson_position.domain.state import PositionState
from robson_position.handlers.commands import emit_all
from robson_position.handlers.runtime import Runtime


def _refusal(gate: GateDecision, market_time: datetime | None) -> tuple[str, str] | None:
    d = gate.decision
    if not d.decision.is_entry:
        return "NOT_AN_ENTRY", f"{d.decision} is not an entry"
    if gate.approved_quantity is None:
        return "NO_APPROVED_QUANTITY", "ALLOW_ENTRY without approved_quantity"
    if d.stop_loss is None:
        return "MISSING_STOP_LOSS", "an entry needs a protective stop"
    if gate.expires_at is not None and market_time is not None and market_time >= gate.expires_at:
        return "APPROVAL_EXPIRED", (f"approved until {gate.expires_at.isoformat()}, the market is at "
                                    f"{market_time.isoformat()}: sized on prices that have moved on")
    return None


async def handle_gate_decision(gate: GateDecision, uow: UnitOfWork, rt: Runtime) -> None:
    if gate.outcome is not GateOutcome.ALLOW_ENTRY:
        return
    repo = positions_of(uow.session)
    pid = position_id_for(gate.gate_decision_id)
    d = gate.decision
    side = d.decision.value
    refusal = _refusal(gate, rt.market_clock.latest)  # event time: replays stay deterministic
    if refusal is None and await rt.settings.paused(uow, d.trader_id):
        refusal = ("TRADER_PAUSED", f"trader {d.trader_id} is paused: no new entries")
    policy = await rt.settings.policy(uow, d.trader_id)
    if refusal is None and not policy.allow_scaling_in and \
            await rt.active.holds(uow, (d.trader_id, d.symbol, side)):
        refusal = ("POSITION_EXISTS", f"{d.trader_id} already holds a {side} {d.symbol} position")
    at = gate.occurred_at
    if refusal is not None:
        await _refuse(uow, repo, gate, pid, refusal, at)
        return
    venue = (await rt.settings.account(uow, gate.account_id)).mode
    position = open_position(gate, venue, at, policy.levels_from == "fill")
    if not await repo.add(position):
        return  # this gate decision was handled before (under another message id)
    rt.active.added(uow, position.s)
    rt.after_commit(uow, position)
    emit_all(uow, position)


async def _refuse(uow: UnitOfWork, repo: Positions, gate: GateDecision, pid: str,
                  refusal: tuple[str, str], at: object) -> None:
    d = gate.decision
    state = PositionState(
        position_id=pid, account_id=gate.account_id, trader_id=d.trader_id, symbol=d.symbol,
        side="SHORT" if d.decision.value == "SHORT" else "LONG", venue="PAPER",
        status=PositionStatus.REJECTED, requested_quantity=gate.approved_quantity or 0,
        created_at=gate.occurred_at, closed_at=gate.occurred_at, decision_id=d.decision_id,
        gate_decision_id=gate.gate_decision_id, entry_reasoning=d.reasoning,
    )
    position = Position(state)
    if not await repo.add(position):
        return  # this gate decision was handled before (under another message id)
    position.emit(PositionEntryFailed(
        **position.event_base(gate, "entry-failed", gate.occurred_at), status=PositionStatus.REJECTED,
        reason_code=refusal[0], message=refusal[1], gate_decision_id=gate.gate_decision_id))
    emit_all(uow, position)
