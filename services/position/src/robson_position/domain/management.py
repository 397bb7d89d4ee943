"""Turning a valid modification or a close request into venue commands and position events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from robson_contracts import (
    CancelOrder,
    ExitReason,
    Message,
    Modification,
    ModificationKind,
    OrderRole,
    OrderSpec,
    OrderType,
    PositionModificationRejected,
    PositionModified,
    PositionStatus,
    ReplaceOrder,
    SubmitOcoOrder,
    SubmitOrder,
    TakeProfitLevel,
    TriggeredBy,
    Violation,
)

from robson_position.domain.lots import close_quantity
from robson_position.domain.orders import QTY_STEP, exiting, order_id, protective_layout
from robson_position.domain.position import Position
from robson_position.domain.state import (
    OrderKind,
    PositionState,
    StopSettings,
    TakeProfit,
    TrackedOrder,
)
from robson_position.domain.validation import target_stop

_STOP_PRICED = {OrderType.TAKE_PROFIT.value, OrderType.STOP_MARKET.value, OrderType.STOP_LIMIT.value}


def apply_modification(position: Position, mod: Modification, triggered_by: TriggeredBy,
                       cause: Message, at: datetime) -> None:
    """Apply an already validated modification."""
    s = position.s
    s.order_generation += 1
    if mod.kind in (ModificationKind.MOVE_SL, ModificationKind.TRAIL_SL):
        new_stop = target_stop(position, mod)
        assert new_stop is not None
        before = StopSettings(manual=s.manual_stop, trail_percent=s.trail_percent,
                              trailed_at=s.last_trailed_at)
        s.stop_loss = new_stop
        s.manual_stop = triggered_by is TriggeredBy.USER_MANUAL
        if mod.kind is ModificationKind.TRAIL_SL:
            s.trail_percent = mod.trail_percent if mod.trail_percent is not None else s.trail_percent
            s.last_trailed_at = at
        _replace_live(position, OrderKind.STOP, cause, at, stop_price=new_stop, before=before)
    elif mod.kind is ModificationKind.MODIFY_TP:
        assert mod.tp_index is not None and mod.new_value is not None
        s.take_profits[mod.tp_index].price = mod.new_value
        _replace_live(position, OrderKind.TP, cause, at, stop_price=mod.new_value, tp_index=mod.tp_index)
    else:
        if mod.kind is ModificationKind.ADD_TP:
            assert mod.new_value is not None and mod.fraction is not None
            s.take_profits.append(TakeProfit(price=mod.new_value, fraction=mod.fraction))
        else:
            assert mod.tp_index is not None
            s.take_profits[mod.tp_index].canceled = True
        reprotect(position, s.remaining, cause, at)
    s.last_modified_at = at
    position.emit(PositionModified(
        **position.event_base(cause, "modified", at), modification=mod, triggered_by=triggered_by,
        stop_loss=s.stop_loss,
        take_profits=tuple(TakeProfitLevel(price=t.price, fraction=t.fraction)
                           for t in s.take_profits if t.live),
    ))


def reject_modification(position: Position, mod: Modification, triggered_by: TriggeredBy,
                        violations: list[Violation], cause: Message, at: datetime) -> None:
    position.emit(PositionModificationRejected(
        **position.event_base(cause, "mod-rejected", at), modification=mod, triggered_by=triggered_by,
        violations=tuple(violations),
    ))


def _replace_live(position: Position, kind: OrderKind, cause: Message, at: datetime,
                  stop_price: Decimal, tp_index: int | None = None,
                  before: StopSettings | None = None) -> None:
    s = position.s
    for old in [o for o in s.orders.values() if o.live and o.kind is kind]:
        if tp_index is not None and old.tp_index != tp_index:
            continue
        tag = ("S" if kind is OrderKind.STOP else "T") + ("" if old.tp_index is None else str(old.tp_index))
        new_id = order_id(s.position_id, s.order_generation, tag)
        by_stop = kind is OrderKind.STOP or old.order_type in _STOP_PRICED
        old.live = False
        s.orders[new_id] = old.model_copy(update={"order_id": new_id, "price": stop_price, "live": True,
                                                  "accepted": False, "replaces": old.order_id,
                                                  "settings_before": before})
        position.emit(ReplaceOrder(
            **position.base(cause, "replace", at), venue=s.venue, position_id=s.position_id,
            symbol=s.symbol, order_id=old.order_id, new_order_id=new_id,
            stop_price=stop_price if by_stop else None, price=None if by_stop else stop_price,
        ))


def cancel_protection(position: Position, cause: Message, at: datetime) -> None:
    """Cancel every live stop and take-profit. An OCO pair goes as one list cancel: cancelling
    one leg cancels its peer at the venue, and a cancel of the peer would come back rejected
    ("unknown order"), one wasted venue request per exit."""
    s = position.s
    protective = [o for o in s.orders.values() if o.live and o.kind in (OrderKind.STOP, OrderKind.TP)]
    lists = _whole_lists(s, protective)
    for o in protective:
        o.live = False
    for list_id in lists:
        position.emit(CancelOrder(**position.base(cause, "cancel", at), venue=s.venue,
                                  position_id=s.position_id, symbol=s.symbol, list_id=list_id))
    for o in protective:
        if o.list_id not in lists:
            position.emit(CancelOrder(**position.base(cause, "cancel", at), venue=s.venue,
                                      position_id=s.position_id, symbol=s.symbol, order_id=o.order_id))
    for old in _replaced_meanwhile(s, protective):
        position.emit(CancelOrder(**position.base(cause, "cancel", at), venue=s.venue,
                                  position_id=s.position_id, symbol=s.symbol, order_id=old))


def _replaced_meanwhile(s: PositionState, protective: list[TrackedOrder]) -> list[str]:
    """The orders that replacements not confirmed yet were to replace, marked not live: the
    venue may still hold them (paper keeps the order whose replacement it refuses, and that
    refusal may still be on its way), so they are cancelled too. Already gone, the cancel is
    refused as unknown."""
    cancelled = {o.order_id for o in protective}
    out: list[str] = []
    for o in protective:
        if o.replaces is not None and not o.accepted and o.replaces not in cancelled:
            cancelled.add(o.replaces)
            out.append(o.replaces)
            old = s.orders.get(o.replaces)
            if old is not None:
                old.live = False
    return out


def _whole_lists(s: PositionState, protective: list[TrackedOrder]) -> list[str]:
    """The lists of which ``protective`` holds two or more legs and every live order (so no
    entry still working in a bracket), in first-seen order."""
    legs = Counter(o.list_id for o in protective if o.list_id)
    live = Counter(o.list_id for o in s.orders.values() if o.live and o.list_id in legs)
    return [list_id for list_id, n in legs.items() if n >= 2 and live.get(list_id) == n]


def reprotect(position: Position, quantity: Decimal, cause: Message, at: datetime) -> None:
    """Cancel every protective order and place the layout for ``quantity`` afresh."""
    s = position.s
    cancel_protection(position, cause, at)
    if quantity <= 0 or s.stop_loss is None:
        return
    layout = protective_layout(s, quantity, position.rules)
    exit_side = s.side.exit_order_side
    by_list: dict[str, list[TrackedOrder]] = {}
    for o in layout:
        s.orders[o.order_id] = o
        if o.list_id:
            by_list.setdefault(o.list_id, []).append(o)
        else:
            position.emit(SubmitOrder(
                **position.base(cause, "stop", at), venue=s.venue, position_id=s.position_id,
                order=OrderSpec(order_id=o.order_id, symbol=s.symbol, side=exit_side,
                                type=OrderType.STOP_MARKET, quantity=o.quantity, stop_price=s.stop_loss,
                                role=OrderRole.STOP_LOSS)))
    for list_id, pair in by_list.items():
        tp = next(o for o in pair if o.kind is OrderKind.TP)
        stop = next(o for o in pair if o.kind is OrderKind.STOP)
        position.emit(SubmitOcoOrder(
            **position.base(cause, "oco", at), venue=s.venue, position_id=s.position_id, list_id=list_id,
            symbol=s.symbol, side=exit_side, quantity=tp.quantity, stop_order_id=stop.order_id,
            stop_price=s.stop_loss, take_profit_order_id=tp.order_id, take_profit_price=tp.price))


def request_close(position: Position, reason: ExitReason, fraction: Decimal | None,
                  cause: Message, at: datetime) -> bool:
    """Close all (or ``fraction`` of) what is held at market. False when nothing to do."""
    s = position.s
    if s.status is PositionStatus.PENDING_ENTRY:
        s.pending_exit_reason = reason
        position.emit(CancelOrder(**position.base(cause, "cancel", at), venue=s.venue,
                                  position_id=s.position_id, symbol=s.symbol, list_id=s.list_id))
        return True
    if s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return False
    held = s.remaining - exiting(s)  # a partial close's exit still selling is not held again
    quantity = held if fraction is None or fraction >= 1 else _share(position, held, fraction)
    return sell_share(position, quantity, reason, cause, at) > 0


def _share(position: Position, held: Decimal, fraction: Decimal) -> Decimal:
    """What a partial close of ``held`` sells: on the venue's step when its rules are known
    (all of it when the rest could not be protected, nothing when the share is below the
    venue's minimums)."""
    s = position.s
    if position.rules is None:
        return (held * fraction).quantize(QTY_STEP, rounding=ROUND_DOWN)
    return close_quantity(held, fraction, position.rules, s.last_price or s.entry_price,
                          s.stop_loss)


def protect_held(position: Position, cause: Message, at: datetime) -> Decimal:
    """Protection placed afresh, in a new order generation, for all that is held and no live
    exit sells already; that quantity."""
    s = position.s
    held = s.remaining - exiting(s)
    s.order_generation += 1
    reprotect(position, held, cause, at)
    return held


def close_unsold(position: Position, reason: ExitReason, cause: Message, at: datetime) -> Decimal:
    """Cancel the protection and sell at market all that is held and no live exit sells
    already (``request_close`` would sell that again); the quantity sent, 0 when none."""
    s = position.s
    quantity = s.remaining - exiting(s)
    if quantity <= 0 or s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return Decimal(0)
    s.order_generation += 1
    s.pending_exit_reason = reason
    cancel_protection(position, cause, at)
    position.transition(PositionStatus.CLOSING)
    _submit_exit(position, quantity, cause, at)
    return quantity


def sell_share(position: Position, quantity: Decimal, reason: ExitReason, cause: Message,
               at: datetime) -> Decimal:
    """Sell ``quantity`` of what is held and no live exit sells already at market, the rest
    protected again (all of it: ``close_unsold``); the quantity sent, 0 when none."""
    s = position.s
    held = s.remaining - exiting(s)
    if quantity >= held:
        return close_unsold(position, reason, cause, at)
    if quantity <= 0 or s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        return Decimal(0)
    s.order_generation += 1
    s.pending_exit_reason = reason
    reprotect(position, held - quantity, cause, at)
    _submit_exit(position, quantity, cause, at)
    return quantity


def _submit_exit(position: Position, quantity: Decimal, cause: Message, at: datetime) -> None:
    s = position.s
    exit_id = order_id(s.position_id, s.order_generation, "X")
    s.orders[exit_id] = TrackedOrder(order_id=exit_id, kind=OrderKind.EXIT, quantity=quantity)
    position.emit(SubmitOrder(
        **position.base(cause, "exit", at), venue=s.venue, position_id=s.position_id,
        order=OrderSpec(order_id=exit_id, symbol=s.symbol, side=s.side.exit_order_side,
                        type=OrderType.MARKET, quantity=quantity, role=OrderRole.EXIT)))
