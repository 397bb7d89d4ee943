"""Modifications become venue commands; rules act on closed candles; closes go to market."""

from __future__ import annotations

from robson_contracts import (
    CancelOrder,
    ExitReason,
    Modification,
    ModificationKind,
    OrderPartiallyFilled,
    OrderRole,
    OrderType,
    PositionStatus,
    ReplaceOrder,
    Side,
    SubmitOcoOrder,
    SubmitOrder,
    TriggeredBy,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification, request_close
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.rules import evaluate

from .factories import T0, D, accepted, filled, gate, minutes


def opened() -> Position:
    p = open_position(gate(), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000", "0.2",
                             Side.BUY), T0)
    p.outbox.clear()
    return p


def test_move_stop_replaces_every_live_stop_order() -> None:
    p = opened()
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("49500")),
                       TriggeredBy.AI_ANALYSIS, gate(), T0)
    replaces = [m for m in p.outbox if isinstance(m, ReplaceOrder)]
    pid = p.s.position_id
    assert sorted(r.order_id for r in replaces) == sorted([f"{pid}-0S0", f"{pid}-0S1"])
    assert all(r.stop_price == D("49500") and len(r.new_order_id) <= 36 for r in replaces)
    assert p.s.stop_loss == D("49500")


def test_full_close_cancels_protection_and_sells_remaining_at_market() -> None:
    p = opened()
    assert request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0)
    assert p.s.status is PositionStatus.CLOSING
    cancels = [m for m in p.outbox if isinstance(m, CancelOrder)]
    [exit_order] = [m for m in p.outbox if isinstance(m, SubmitOrder)]
    assert len(cancels) == 4 and exit_order.order.quantity == D("0.2")
    assert exit_order.order.side is Side.SELL and exit_order.order.role is OrderRole.EXIT
    on_order_event(p, filled(p.s.position_id, exit_order.order.order_id, OrderRole.EXIT, "50100", "0.2",
                             Side.SELL), T0 + minutes(5))
    assert p.s.status is PositionStatus.CLOSED and p.s.exit_reason is ExitReason.MANUAL_CLOSE


def _legs_accepted_in_list(p: Position) -> str:
    """The venue reports each protective leg resting in the bracket's list."""
    list_id = p.s.list_id
    for o in [o for o in p.s.orders.values() if o.live]:
        stop = o.kind.value == "STOP"
        role, otype = ((OrderRole.STOP_LOSS, OrderType.STOP_MARKET) if stop
                       else (OrderRole.TAKE_PROFIT, OrderType.LIMIT))
        on_order_event(p, accepted(p.s.position_id, o.order_id, role, "0.1", Side.SELL,
                                   otype, price=None if stop else str(p.s.take_profits[o.tp_index or 0].price),
                                   stop=str(p.s.stop_loss) if stop else None, list_id=list_id), T0)
    p.outbox.clear()
    return list_id


def test_full_close_cancels_a_resting_bracket_as_one_list_not_leg_by_leg() -> None:
    p = opened()
    list_id = _legs_accepted_in_list(p)
    assert request_close(p, ExitReason.AI_CLOSE, None, gate(), T0)
    cancels = [m for m in p.outbox if isinstance(m, CancelOrder)]
    assert [(c.list_id, c.order_id) for c in cancels] == [(list_id, None)]
    assert not any(o.live for o in p.s.orders.values() if o.kind.value in ("STOP", "TP"))


def test_full_close_cancels_leg_by_leg_while_the_lists_entry_still_works() -> None:
    p = open_position(gate(), "PAPER", T0)
    half = filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000", "0.1", Side.BUY)
    data = half.model_dump(exclude={"message_type"}) | {"remaining_quantity": D("0.1")}
    on_order_event(p, OrderPartiallyFilled(**data), T0)
    on_order_event(p, accepted(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "0.2",
                               Side.BUY, OrderType.MARKET, list_id=p.s.list_id), T0)
    _legs_accepted_in_list(p)
    assert request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0)
    cancels = [m for m in p.outbox if isinstance(m, CancelOrder)]
    assert cancels and all(c.list_id is None and c.order_id for c in cancels)


def test_partial_close_reprotects_the_rest_with_scaled_oco_orders() -> None:
    p = opened()
    assert request_close(p, ExitReason.TAKE_PROFIT, D("0.5"), gate(), T0)
    ocos = [m for m in p.outbox if isinstance(m, SubmitOcoOrder)]
    exits = [m for m in p.outbox if isinstance(m, SubmitOrder) and m.order.role is OrderRole.EXIT]
    assert exits[0].order.quantity == D("0.1")
    assert sum(o.quantity for o in ocos) == D("0.1")  # protection covers exactly what stays
    assert all(o.stop_price == D("49000") for o in ocos)


def test_second_close_while_closing_does_nothing() -> None:
    p = opened()
    request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0)
    p.outbox.clear()
    assert not request_close(p, ExitReason.KILL_SWITCH, None, gate(), T0)
    assert p.outbox == []


def test_breakeven_rule_fires_once_favourable_move_reaches_trigger() -> None:
    p = opened()
    policy = ManagementPolicy(breakeven_trigger_pct=D("2"))
    p.mark(D("50800"), high=D("50900"), low=D("50700"))
    assert evaluate(p, policy, T0 + minutes(5)) is None
    p.mark(D("50900"), high=D("51000"), low=D("50800"))
    action = evaluate(p, policy, T0 + minutes(10))
    assert action.modification.kind is ModificationKind.MOVE_SL and action.modification.new_value == D("50000")


def test_trailing_rule_follows_best_price_and_never_loosens() -> None:
    p = opened()
    policy = ManagementPolicy(trailing_pct=D("1"))
    p.mark(D("51000"), high=D("52000"))
    action = evaluate(p, policy, T0)
    assert action.modification.new_value == D("51480")
    p.s.stop_loss = D("51480")
    p.mark(D("51600"), high=D("51700"), low=D("51500"))
    assert evaluate(p, policy, T0) is None


def test_time_exit_rule_closes_after_holding_limit() -> None:
    p = opened()
    policy = ManagementPolicy(time_exit_minutes=60)
    assert evaluate(p, policy, T0 + minutes(59)) is None
    assert evaluate(p, policy, T0 + minutes(60)).close_reason is ExitReason.TIME_EXIT


def test_short_breakeven_moves_stop_down_to_entry() -> None:
    p = open_position(gate(side="SHORT", qty="1", stop="110", tps=()), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "100", "1",
                             Side.SELL), T0)
    p.mark(D("97"), low=D("96"), high=D("98"))
    action = evaluate(p, ManagementPolicy(breakeven_trigger_pct=D("3")), T0)
    assert action.modification.new_value == D("100")
