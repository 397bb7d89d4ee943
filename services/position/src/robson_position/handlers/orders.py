"""Venue order events (by position_id and role) → fills, state transitions, P&L."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import (
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRole,
    PositionError,
    SubmitOrder,
    TriggeredBy,
)
from robson_kit.uow import UnitOfWork

from robson_position.adapters import batch
from robson_position.adapters.repository import audit_of, positions_of
from robson_position.domain.lifecycle import on_order_event
from robson_position.domain.position import InvalidTransition, Position
from robson_position.domain.replace_refusals import MOVE_REFUSED
from robson_position.domain.state import OrderKind
from robson_position.handlers.commands import emit_all
from robson_position.handlers.runtime import Runtime


async def handle_order_event(event: OrderEvent, uow: UnitOfWork, rt: Runtime) -> None:
    """A batch of events reads each position once and writes it once (``adapters/batch.py``).
    A fill is new when the position has not seen it (``fill_ids``, in the state the batch
    writes with its version check): its row in ``fills`` is a record, sent with the COMMIT."""
    if event.position_id is None:
        return  # an order nobody's position placed (e.g. manual on the venue)
    position = await batch.get(uow, rt.mirror, event.position_id)
    if position is None:
        return  # another deployment's position; nothing of ours to update
    rt.equip(position)
    fill = event.fill if isinstance(event, OrderFilled | OrderPartiallyFilled) else None
    if fill is not None:
        if position.seen_fill(fill.fill_id):
            return  # this fill was counted (or refused) already
        tracked = position.s.orders.get(event.order_id)
        kind = tracked.kind.value if tracked else (event.role.value if event.role else "EXIT")
        await positions_of(uow.session).log_fill(position.s.position_id, event.order_id, kind,
                                                 fill)
    try:
        on_order_event(position, event, event.occurred_at)
    except InvalidTransition as exc:
        if fill is not None:
            position.refused_fill(fill.fill_id)
        position.emit(_error(position, event, exc))
    if batch.save_at_commit(uow, rt.mirror, position):
        rt.after_commit(uow, position)  # runs after commit, on the batch's final state
    await _audit_refusal_exits(uow, position, event)
    emit_all(uow, position)


_THROUGH_MARKET = {"STOP_THROUGH_MARKET": "CLOSE", "TAKE_PROFIT_THROUGH_MARKET": "PARTIAL_CLOSE"}
_MOVE_REFUSED = frozenset(MOVE_REFUSED.values())


async def _audit_refusal_exits(uow: UnitOfWork, position: Position, event: OrderEvent) -> None:
    """A protective order refused as already through the market is answered by an exit at
    market (``domain/price_refusals.py``), a stop or take-profit move refused after the venue
    had cancelled the old order by its protection placed again (``domain/replace_refusals.py``):
    audited as the watchdog's and the rules' closes and re-protections are."""
    s = position.s
    for m in position.outbox:
        if not isinstance(m, PositionError):
            continue
        refused = {"refused": event.order_id, "reason_code": getattr(event, "reason_code", "")}
        if m.reason_code in _THROUGH_MARKET:
            exits = [o.order for o in position.outbox
                     if isinstance(o, SubmitOrder) and o.order.role is OrderRole.EXIT]
            await audit_of(uow.session).record(
                position_id=s.position_id, message_id=str(m.message_id), at=event.occurred_at,
                triggered_by=TriggeredBy.RULE_ENGINE.value, kind=_THROUGH_MARKET[m.reason_code],
                request=refused | {"exit_quantity": [str(o.quantity) for o in exits]},
                verdict="APPLIED" if exits else "IGNORED", violations=[], reason=m.message,
                outcome=s.status.value)
        elif m.reason_code in _MOVE_REFUSED:
            placed = [o for o in s.orders.values()
                      if o.live and o.kind is OrderKind.STOP and not o.accepted]
            await audit_of(uow.session).record(
                position_id=s.position_id, message_id=str(m.message_id), at=event.occurred_at,
                triggered_by=TriggeredBy.RULE_ENGINE.value, kind="REPROTECT",
                request=refused | {"stop_loss": str(s.stop_loss),
                                   "quantity": str(sum((o.quantity for o in placed), Decimal(0)))},
                verdict="APPLIED", violations=[], reason=m.message, outcome=s.status.value)


def _error(position, event, exc: InvalidTransition):  # type: ignore[no-untyped-def]
    return PositionError(**position.base(event, "error", event.occurred_at),
                         position_id=position.s.position_id, reason_code=exc.reason_code,
                         message=f"{event.message_type} {event.order_id}: {exc.message}")
