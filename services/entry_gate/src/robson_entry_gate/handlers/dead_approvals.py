"""An approval position gave up on (dead-lettered) will never be reported on: its pending risk
is released, as a ``PositionEntryFailed`` would release it. Pending risk never expires on a
timer, so without this a poison approval would hold its account's budget until an operator
acted. A dead letter that is not an approval, or cannot be read, changes nothing."""

from __future__ import annotations

from robson_contracts import DeadLetter
from robson_contracts import subjects as s
from robson_contracts.gate import entry_approval_in
from robson_kit import logs
from robson_kit.uow import UnitOfWork

from robson_entry_gate.domain import projection
from robson_entry_gate.handlers.deps import GateDeps, finish

log = logs.get_logger(__name__)

POSITION_GATE_DEAD_LETTERS = s.dead_letter("position", "position_gate")
"""Where position's consumer of gate decisions dead-letters what it could not act on."""


async def handle_dead_letter(letter: DeadLetter, uow: UnitOfWork, deps: GateDeps) -> None:
    approval = entry_approval_in(letter)
    if approval is None:
        return
    state, version = await deps.accounts.lock(uow.session, approval.account_id)
    if approval.gate_decision_id not in state.pending:
        return  # reported on before it failed again, or released already
    projection.release_pending(state, approval.gate_decision_id)
    log.warning("gate.pending_released", account_id=approval.account_id,
                gate_decision_id=approval.gate_decision_id, reason_code=letter.reason_code)
    now = state.last_event_at or letter.occurred_at  # a dead letter's stamp is wall time
    await finish(uow, deps, state, version, now, letter, slot_freed=True)
