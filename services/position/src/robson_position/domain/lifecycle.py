"""Entry and order-event handling: what the position does with a GateDecision and venue events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    BracketTakeProfit,
    ExitReason,
    GateDecision,
    Message,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderRole,
    OrderSpec,
    OrderType,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
    PositionOpened,
    PositionPartiallyClosed,
    PositionSide,
    PositionStatus,
    SubmitBracketOrder,
    TakeProfitLevel,
    TradingMode,
)
from robson_contracts import CancelOrder as CancelOrderCmd
from robson_contracts.orders import rebased

from robson_position.domain import pnl
from robson_position.domain.management import protect_held, reprotect, request_close
from robson_position.domain.orders import live_orders, order_id, position_id_for
from robson_position.domain.position import Position
from robson_position.domain.price_refusals import through_market_refused
from robson_position.domain.refusals import protection_refused, write_off_refused_exit
from robson_position.domain.replace_refusals import replacement_refused, undo_move
from robson_position.domain.state import (
    OrderKind,
    PositionState,
    TakeProfit,
    TrackedOrder,
)

_KIND_OF_ROLE = {OrderRole.ENTRY: OrderKind.ENTRY, OrderRole.STOP_LOSS: OrderKind.STOP,
                 OrderRole.TAKE_PROFIT: OrderKind.TP, OrderRole.EXIT: OrderKind.EXIT}


def open_position(gate: GateDecision, venue: TradingMode, at: datetime,
                  levels_from_fill: bool = False) -> Position:
    """A PENDING_ENTRY position and its bracket: MARKET entry, stop, take-profit OCOs."""
    d = gate.decision
    reference = d.entry_price if levels_from_fill else None
    assert gate.approved_quantity is not None and d.stop_loss is not None
    pid = position_id_for(gate.gate_decision_id)
    state = PositionState(
        position_id=pid, account_id=gate.account_id, trader_id=d.trader_id, symbol=d.symbol,
        side=d.decision.value, venue=venue, requested_quantity=gate.approved_quantity,
        stop_loss=d.stop_loss, initial_stop=d.stop_loss, created_at=at,
        take_profits=[TakeProfit(price=tp.price, fraction=tp.fraction) for tp in d.take_profits],
        decision_id=d.decision_id, gate_decision_id=gate.gate_decision_id,
        entry_reasoning=d.reasoning, list_id=order_id(pid, 0, "B"), levels_reference=reference,
    )
    position = Position(state)
    entry = TrackedOrder(order_id=order_id(pid, 0, "E"), kind=OrderKind.ENTRY,
                         quantity=gate.approved_quantity)
    children: list[BracketTakeProfit] = []
    state.orders[entry.order_id] = entry
    for i, tp in enumerate(state.take_profits):
        tp_id, stop_id = order_id(pid, 0, f"T{i}"), order_id(pid, 0, f"S{i}")
        children.append(BracketTakeProfit(order_id=tp_id, stop_order_id=stop_id, price=tp.price,
                                          fraction=tp.fraction))
        state.orders[tp_id] = TrackedOrder(order_id=tp_id, kind=OrderKind.TP, quantity=0, tp_index=i,
                                           price=tp.price)
        state.orders[stop_id] = TrackedOrder(order_id=stop_id, kind=OrderKind.STOP, quantity=0,
                                             tp_index=i, price=d.stop_loss)
    rest_stop = order_id(pid, 0, "S")
    if sum((tp.fraction for tp in state.take_profits), Decimal(0)) < 1:  # venue adds a lone stop
        state.orders[rest_stop] = TrackedOrder(order_id=rest_stop, kind=OrderKind.STOP, quantity=0,
                                               price=d.stop_loss)
    position.emit(SubmitBracketOrder(
        **position.base(gate, "bracket", at), venue=venue, position_id=pid, list_id=state.list_id,
        entry=OrderSpec(order_id=entry.order_id, symbol=d.symbol, side=state.side.entry_order_side,
                        type=OrderType.MARKET, quantity=gate.approved_quantity, role=OrderRole.ENTRY),
        stop_price=d.stop_loss, stop_order_id=rest_stop, take_profits=tuple(children),
        levels_reference=reference,
    ))
    return position


def on_order_event(position: Position, event: OrderEvent, at: datetime) -> None:
    tracked = position.s.orders.get(event.order_id)
    if isinstance(event, OrderAccepted):
        _accepted(position, event)
    elif isinstance(event, OrderFilled | OrderPartiallyFilled):
        _filled(position, event, at)
    elif isinstance(event, OrderReplaced):
        _replaced(position, event)
    elif isinstance(event, OrderRejected):
        _rejected(position, event, at)
    elif isinstance(event, OrderCanceled | OrderExpired) and tracked is not None:
        tracked.live = False
        if tracked.kind is OrderKind.ENTRY:
            _entry_ended(position, event, at)
        elif tracked.kind is OrderKind.EXIT:
            _exit_ended(position, event, at)


def _accepted(position: Position, event: OrderAccepted) -> None:
    spec = event.order
    tracked = position.s.orders.get(event.order_id)
    if tracked is None:  # a child we did not pre-register (venue-side naming)
        kind = _KIND_OF_ROLE.get(event.role or OrderRole.EXIT, OrderKind.EXIT)
        tracked = TrackedOrder(order_id=event.order_id, kind=kind, quantity=spec.quantity)
        position.s.orders[event.order_id] = tracked
    tracked.quantity = spec.quantity
    tracked.price = spec.stop_price or spec.price
    tracked.order_type = spec.type.value
    tracked.list_id = event.list_id or tracked.list_id
    tracked.accepted = True
    if tracked.kind is OrderKind.STOP:
        position.s.stop_through_for = None  # a stop works again: a later refusal acts afresh


def _replaced(position: Position, event: OrderReplaced) -> None:
    old = position.s.orders.get(event.order_id)
    spec = event.order
    if old is not None and spec.order_id != event.order_id:  # not a resize under the same id
        old.live = False
    known = position.s.orders.get(spec.order_id)
    if known is not None:
        # Our own replacement confirmed, or an order execution resized. It keeps its liveness:
        # a later move may already have replaced it (the confirmation comes after the next
        # candle), and counting it live again would move two stops at the next step, one of
        # them gone at the venue.
        known.quantity, known.price = spec.quantity, spec.stop_price or spec.price
        known.order_type, known.list_id = spec.type.value, event.list_id or known.list_id
        known.accepted, known.replaces, known.settings_before = True, None, None  # done moving
        return
    kind = old.kind if old else _KIND_OF_ROLE.get(event.role or OrderRole.STOP_LOSS, OrderKind.STOP)
    position.s.orders[spec.order_id] = TrackedOrder(
        order_id=spec.order_id, kind=kind, quantity=spec.quantity, price=spec.stop_price or spec.price,
        tp_index=old.tp_index if old else None, list_id=event.list_id, order_type=spec.type.value,
        accepted=True,
    )


def _fill_reason(position: Position, kind: OrderKind) -> ExitReason:
    s = position.s
    if kind is OrderKind.TP:
        return ExitReason.TAKE_PROFIT
    if kind is OrderKind.STOP:
        return s.stop_exit_reason
    return s.pending_exit_reason or ExitReason.MANUAL_CLOSE


def _filled(position: Position, event: OrderFilled | OrderPartiallyFilled, at: datetime) -> None:
    s = position.s
    fill = event.fill
    if position.seen_fill(fill.fill_id):
        return
    # what is held changes: a stop refused as through the market from here on is refused for
    # another holding (the close it was answered with worked, in part or whole): no loop yet
    s.stop_through_for = None
    base, quote = (position.rules.base_asset, position.rules.quote_asset) if position.rules else ("", "")
    fee = fill.fee_quote if fill.fee_quote is not None \
        else pnl.fee_in_quote(fill.fee, fill.fee_asset, s.symbol, fill.price, base, quote)
    tracked = s.orders.get(event.order_id)
    kind = tracked.kind if tracked else _KIND_OF_ROLE.get(event.role or OrderRole.EXIT, OrderKind.EXIT)
    if isinstance(event, OrderFilled) and tracked is not None:
        tracked.live = False
    if kind is OrderKind.ENTRY:
        kept = fill.fee if s.side is PositionSide.LONG \
            and pnl.fee_in_base(fill.fee_asset, s.symbol, base) else Decimal(0)
        position.apply_entry_fill(fill.fill_id, fill.price, fill.quantity, fee, fill.filled_at, kept)
        if isinstance(event, OrderFilled):
            _levels_from_fill(s)
            _opened(position, event, at)
            _close_requested_while_pending(position, event, at)
        return
    again = False
    if kind is OrderKind.TP and tracked is not None and tracked.tp_index is not None \
            and isinstance(event, OrderFilled):
        s.take_profits[tracked.tp_index].filled = True
        # a late fill of a take-profit already replaced (a partial close or a take-profit change
        # re-placed protection meanwhile): its replacement sells the level a second time
        again = any(o.tp_index == tracked.tp_index for o in live_orders(s, OrderKind.TP))
    close = position.apply_exit_fill(fill.fill_id, fill.price, fill.quantity, fee,
                                     _fill_reason(position, kind), fill.filled_at)
    if again and s.status in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        protect_held(position, event, at)
    if s.status is PositionStatus.CLOSED:
        _closed(position, event, at)
    else:
        if s.status is PositionStatus.CLOSING and not live_orders(s, OrderKind.EXIT):
            _exit_ended(position, event, at)
        position.emit(PositionPartiallyClosed(
            **position.event_base(event, "partially-closed", at), closed_quantity=close.quantity,
            exit_price=close.price, remaining_quantity=s.remaining, realized_pnl=close.realized_pnl,
            fees=close.fees + close.entry_fees, exit_reason=close.reason,
        ))


def _levels_from_fill(s: PositionState) -> None:
    """The levels the venue placed, as it moved them to the fill (``rebased``)."""
    ref, fill = s.levels_reference, s.entry_price
    if ref is None or fill is None:
        return
    if s.stop_loss is not None:
        s.stop_loss = s.initial_stop = rebased(s.stop_loss, ref, fill)
    for tp in s.take_profits:
        tp.price = rebased(tp.price, ref, fill)
    s.levels_reference = None


def _opened(position: Position, cause: Message, at: datetime) -> None:
    s = position.s
    position.emit(PositionOpened(
        **position.event_base(cause, "opened", at),
        quantity=s.entry_quantity - s.entry_fee_quantity,  # what the entry put in the account
        entry_price=s.entry_price, stop_loss=s.stop_loss,
        take_profits=tuple(TakeProfitLevel(price=t.price, fraction=t.fraction) for t in s.take_profits),
        initial_risk=position.initial_risk, fees=s.entry_fees, decision_id=s.decision_id,
        gate_decision_id=s.gate_decision_id,
    ))


def _closed(position: Position, cause: Message, at: datetime) -> None:
    s = position.s
    assert s.opened_at is not None and s.exit_reason is not None
    for oid in [o.order_id for o in s.orders.values() if o.live]:
        s.orders[oid].live = False
        position.emit(CancelOrderCmd(**position.base(cause, "cancel", at), venue=s.venue,
                                     position_id=s.position_id, symbol=s.symbol, order_id=oid))
    position.emit(PositionClosed(
        **position.event_base(cause, "closed", at), quantity=s.entry_quantity,
        entry_price=s.entry_price, exit_price=s.exit_price, realized_pnl=s.realized_pnl,
        fees=s.entry_fees + s.exit_fees, exit_reason=s.exit_reason, r_multiple=position.r_multiple,
        opened_at=s.opened_at, holding_seconds=position.holding_seconds(s.closed_at or at),
    ))


def _entry_ended(position: Position, event: OrderEvent, at: datetime) -> None:
    """The entry order stopped working: open with what filled, or cancel the position."""
    s = position.s
    if s.entry_quantity > 0:
        if s.status is PositionStatus.OPEN and not any(isinstance(m, PositionOpened) for m in position.outbox):
            _opened(position, event, at)
        _close_requested_while_pending(position, event, at)
        return
    if s.status is not PositionStatus.PENDING_ENTRY:
        return
    position.transition(PositionStatus.CANCELED)
    s.closed_at = at
    reason = getattr(event, "reason", "") or "entry canceled"
    position.emit(PositionEntryFailed(**position.event_base(event, "entry-failed", at),
                                      status=PositionStatus.CANCELED, reason_code="ENTRY_CANCELED",
                                      message=reason, gate_decision_id=s.gate_decision_id))


def _close_requested_while_pending(position: Position, cause: Message, at: datetime) -> None:
    """A close asked for while the entry was pending cancels the bracket's list; when the entry
    filled first, that cancel takes the stop and take-profits instead. The close still stands:
    what the entry bought is sold at market now."""
    s = position.s
    if s.pending_exit_reason is None or s.status is not PositionStatus.OPEN or s.exit_quantity \
            or any(o.kind is OrderKind.EXIT for o in s.orders.values()):
        return
    request_close(position, s.pending_exit_reason, None, cause, at)


def _exit_ended(position: Position, event: OrderEvent, at: datetime) -> None:
    """A market exit ended (canceled, expired, rejected) without selling all it was for. What is
    still held goes back under a stop: left CLOSING it would have none, and neither the rules, the
    watchdog nor a new close request act on a CLOSING position."""
    s = position.s
    if not s.holds or live_orders(s, OrderKind.EXIT):
        return
    if s.status is PositionStatus.CLOSING:
        position.transition(PositionStatus.PARTIALLY_CLOSED if s.exit_quantity else PositionStatus.OPEN)
    s.order_generation += 1
    reprotect(position, s.remaining, event, at)
    if not isinstance(event, OrderRejected):  # a rejection is reported as such below
        position.emit(PositionError(**position.base(event, "error", at), position_id=s.position_id,
                                    reason_code="EXIT_NOT_FILLED",
                                    message=f"{event.order_id} ended with {s.remaining} still held: "
                                            f"stop {s.stop_loss} placed again"))


def _rejected(position: Position, event: OrderRejected, at: datetime) -> None:
    s = position.s
    tracked = s.orders.get(event.order_id)
    was_live = tracked is not None and tracked.live
    if tracked is not None:
        tracked.live = False
    if not s.is_active:
        return  # e.g. a cancel that raced the venue's own OCO cancel after the close
    if (tracked is None or tracked.kind is OrderKind.ENTRY) and s.status is PositionStatus.PENDING_ENTRY:
        position.transition(PositionStatus.REJECTED)
        s.closed_at = at
        position.emit(PositionEntryFailed(**position.event_base(event, "entry-failed", at),
                                          status=PositionStatus.REJECTED, reason_code=event.reason_code,
                                          message=event.message, gate_decision_id=s.gate_decision_id))
        return
    position.emit(PositionError(**position.base(event, "error", at), position_id=s.position_id,
                                reason_code=f"ORDER_REJECTED_{event.reason_code}"[:64],
                                message=f"{event.order_id}: {event.message}"))
    if tracked is not None and tracked.kind is OrderKind.EXIT:
        if write_off_refused_exit(position, tracked, event, at):
            _closed(position, event, at)
        else:
            _exit_ended(position, event, at)
    elif tracked is not None and not was_live and tracked.replaces is not None \
            and s.venue is TradingMode.PAPER:
        _refused_after_next_move(s, tracked)
    elif tracked is not None and was_live:  # a cancel's refusal finds it not live
        if tracked.replaces is not None and s.venue is TradingMode.PAPER and tracked.replaces in s.orders:
            kept = s.orders[tracked.replaces]  # paper keeps the order it was to replace (execution
            # has cancelled it: replace_refusals.py places protection again)
            kept.live = True
            undo_move(s, tracked, kept.price)
        if not through_market_refused(position, tracked, event, at) \
                and not replacement_refused(position, tracked, event, at):
            protection_refused(position, tracked, event, at)


def _refused_after_next_move(s: PositionState, refused: TrackedOrder) -> None:
    """A replacement paper refused after a later move had already replaced it. Paper kept the
    order the refused one was to replace, and it will refuse the later move too (the order
    that move replaces never existed): that refusal must bring back the order paper kept, at
    its price and with the stop settings from before both moves."""
    for later in s.orders.values():
        if later.replaces == refused.order_id and later.live and not later.accepted:
            later.replaces = refused.replaces
            later.settings_before = refused.settings_before or later.settings_before
