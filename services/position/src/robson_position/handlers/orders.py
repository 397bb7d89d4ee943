"""Venue order events (by position_id and role) → fills, state transitions, P&L."""

from __future__ import annotations

from robson_contracts import OrderEvent, OrderFilled, OrderPartiallyFilled
from robson_kit.uow import UnitOfWork

from robson_position.adapters import batch
from robson_position.adapters.repository import positions_of
from robson_position.domain.lifecycle import on_order_event
from robson_position.domain.position import InvalidTransition
from robson_position.handlers.commands import emit_all
from robson_position.handlers.runtime import Runtime


async def handle_order_event(event: OrderEvent, uow: UnitOfWork, rt: Runtime) -> None:
    """A batch of events reads each position once and writes it once (``adapters/batch.py``)."""
    if event.position_id is None:
        return  # an order nobody's position placed (e.g. manual on the venue)
    position = await batch.get(uow, rt.mirror, event.position_id)
    if position is None:
        return  # another deployment's position; nothing of ours to update
    rt.equip(position)
    if isinstance(event, OrderFilled | OrderPartiallyFilled):
        tracked = position.s.orders.get(event.order_id)
        kind = tracked.kind.value if tracked else (event.role.value if event.role else "EXIT")
        if not await positions_of(uow.session).record_fill(position.s.position_id, event.order_id,
                                                        kind, event.fill):
            return  # this fill was counted already
    try:
        on_order_event(position, event, event.occurred_at)
    except InvalidTransition as exc:
        position.emit(_error(position, event, exc))
    if batch.save_at_commit(uow, rt.mirror, position):
        rt.after_commit(uow, position)  # runs after commit, on the batch's final state
    emit_all(uow, position)


def _error(position, event, exc: InvalidTransition):  # type: ignore[no-untyped-def]
    from robson_contracts import PositionError

    return PositionError(**position.base(event, "error", event.occurred_at),
                         position_id=position.s.position_id, reason_code=exc.reason_code,
                         message=f"{event.message_type} {event.order_id}: {exc.message}")
