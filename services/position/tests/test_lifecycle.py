"""The position state machine and P&L arithmetic (pure domain)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import (
    ExitReason,
    OrderCanceled,
    OrderRejected,
    OrderRole,
    PositionClosed,
    PositionEntryFailed,
    PositionOpened,
    PositionPartiallyClosed,
    PositionStatus,
    Side,
    SubmitBracketOrder,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.position import InvalidTransition, Position
from robson_position.domain.state import PositionState

from .factories import T0, D, filled, gate, minutes


def opened_long() -> Position:
    p = open_position(gate(), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000", "0.2",
                             Side.BUY), T0)
    return p


def opened(side: str) -> Position:
    p = open_position(gate(side=side, stop="40000" if side == "LONG" else "60000", tps=()),
                      "PAPER", T0)
    entry_side = Side.BUY if side == "LONG" else Side.SELL
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000",
                             "0.2", entry_side), T0)
    return p


def test_allowed_entry_emits_bracket_with_stop_and_two_take_profits() -> None:
    p = open_position(gate(), "PAPER", T0)
    [bracket] = p.outbox
    assert isinstance(bracket, SubmitBracketOrder)
    assert p.s.status is PositionStatus.PENDING_ENTRY
    assert bracket.entry.quantity == D("0.2") and bracket.entry.side is Side.BUY
    assert bracket.stop_price == D("49000") and bracket.position_id == p.s.position_id
    assert [(tp.price, tp.fraction) for tp in bracket.take_profits] == [(D("51000"), D("0.5")),
                                                                         (D("52000"), D("0.5"))]
    assert all(len(i) <= 36 for i in [bracket.entry.order_id, bracket.stop_order_id, bracket.list_id])


def test_same_gate_decision_gives_byte_identical_bracket() -> None:
    g = gate()
    a = open_position(g, "PAPER", T0).outbox[0]
    b = open_position(g, "PAPER", T0).outbox[0]
    assert a.model_dump_json() == b.model_dump_json()


def test_entry_fill_opens_position_with_fee_and_initial_risk() -> None:
    p = opened_long()
    assert p.s.status is PositionStatus.OPEN
    opened = [m for m in p.outbox if isinstance(m, PositionOpened)]
    assert len(opened) == 1 and opened[0].entry_price == D("50000")
    assert opened[0].fees == D("10") and opened[0].initial_risk == D("200")


def test_long_tp1_then_breakeven_stop_realizes_hand_computed_pnl() -> None:
    p = opened_long()
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "51000", "0.1", Side.SELL,
                             at=T0 + minutes(10)), T0 + minutes(10))
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED
    partial = next(m for m in p.outbox if isinstance(m, PositionPartiallyClosed))
    # +100 gross − 5.10 exit fee − 5 (half the entry fee)
    assert partial.realized_pnl == D("89.9") and partial.exit_reason is ExitReason.TAKE_PROFIT
    on_order_event(p, filled(pid, f"{pid}-0S1", OrderRole.STOP_LOSS, "50000", "0.1", Side.SELL,
                             at=T0 + minutes(30)), T0 + minutes(30))
    closed = next(m for m in p.outbox if isinstance(m, PositionClosed))
    assert p.s.status is PositionStatus.CLOSED
    assert closed.realized_pnl == D("79.90")  # 100 − 10 − 5.10 − 5
    assert closed.fees == D("20.1") and closed.exit_price == D("50500")
    assert closed.exit_reason is ExitReason.STOP_LOSS and closed.holding_seconds == 1800
    assert closed.r_multiple == D("79.90") / D("200")


def test_short_round_trip_profit_is_entry_minus_exit_net_of_fees() -> None:
    p = open_position(gate(side="SHORT", qty="2", stop="105", tps=(("90", "1"),), symbol="ETHUSDT"),
                      "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "100", "2", Side.SELL, symbol="ETHUSDT"), T0)
    on_order_event(p, filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "90", "2", Side.BUY,
                             symbol="ETHUSDT"), T0)
    assert p.s.status is PositionStatus.CLOSED
    assert p.s.realized_pnl == D("20") - D("0.2") - D("0.18")
    assert p.s.exit_reason is ExitReason.TAKE_PROFIT


def test_duplicate_fill_is_counted_once() -> None:
    p = opened_long()
    pid = p.s.position_id
    fill = filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "51000", "0.1", Side.SELL)
    on_order_event(p, fill, T0)
    on_order_event(p, fill, T0)
    assert p.s.exit_quantity == D("0.1") and len(p.s.closes) == 1


def test_rejected_entry_ends_rejected_with_reason() -> None:
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, OrderRejected(occurred_at=T0, account_id="acc1", venue="PAPER", order_id=f"{pid}-0E",
                                    symbol="BTCUSDT", position_id=pid, role=OrderRole.ENTRY,
                                    reason_code="INSUFFICIENT_BALANCE", message="no money"), T0)
    assert p.s.status is PositionStatus.REJECTED
    failed = next(m for m in p.outbox if isinstance(m, PositionEntryFailed))
    assert failed.reason_code == "INSUFFICIENT_BALANCE"


def test_entry_canceled_without_fill_ends_canceled() -> None:
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, OrderCanceled(occurred_at=T0, account_id="acc1", venue="PAPER", order_id=f"{pid}-0E",
                                    symbol="BTCUSDT", position_id=pid, role=OrderRole.ENTRY,
                                    reason="expired", remaining_quantity="0.2"), T0)
    assert p.s.status is PositionStatus.CANCELED


def test_closed_position_refuses_further_transitions() -> None:
    p = opened_long()
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "49000", "0.2", Side.SELL), T0)
    with pytest.raises(InvalidTransition):
        p.transition(PositionStatus.OPEN)
    with pytest.raises(InvalidTransition):
        p.apply_exit_fill("late", D("1"), D("1"), D("0"), ExitReason.STOP_LOSS, T0)


def test_marks_track_mfe_mae_and_drawdown_from_peak() -> None:
    p = opened_long()
    p.mark(D("50500"), high=D("51500"), low=D("49800"))
    mfe, mae = p.excursions()
    assert mfe == D("300") and mae == D("-40")  # 0.2 × (51500−50000), 0.2 × (49800−50000)
    assert p.s.max_drawdown == D("340")  # peak +300 at 51500, trough −40 at 49800
    assert p.unrealized_at(D("50500")) == D("100")


def test_state_round_trips_through_json() -> None:
    p = opened_long()
    again = PositionState.model_validate_json(p.s.model_dump_json())
    assert again == p.s


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=6),
       st.integers(min_value=30000, max_value=70000), st.sampled_from(["LONG", "SHORT"]))
def test_partial_closes_sum_to_gross_minus_all_fees(parts: list[int], exit_price: int, side: str) -> None:
    total_units = sum(parts)
    qty = D(total_units) / 100
    p = open_position(gate(side=side, qty=str(qty), stop="40000" if side == "LONG" else "60000", tps=()),
                      "PAPER", T0)
    pid = p.s.position_id
    entry_side, exit_side = (Side.BUY, Side.SELL) if side == "LONG" else (Side.SELL, Side.BUY)
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", str(qty), entry_side), T0)
    for i, units in enumerate(parts):
        on_order_event(p, filled(pid, f"x{i}", OrderRole.EXIT, str(exit_price), str(D(units) / 100),
                                 exit_side, fill_id=f"x{i}"), T0)
    sign = 1 if side == "LONG" else -1
    gross = (D(exit_price) - D(50000)) * qty * sign
    fees = D("50000") * qty * D("0.001") + D(exit_price) * qty * D("0.001")
    assert p.s.status is PositionStatus.CLOSED
    assert p.s.realized_pnl == gross - fees
    assert sum((c.realized_pnl for c in p.s.closes), D(0)) == p.s.realized_pnl
    assert Decimal(0) <= p.s.exit_quantity == qty


prices_around = st.integers(min_value=45000, max_value=55000).map(Decimal)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["LONG", "SHORT"]),
       st.lists(st.tuples(prices_around, prices_around), min_size=1, max_size=4),
       prices_around)
def test_marking_several_ranges_at_once_equals_marking_them_one_by_one(
    side: str, ranges: list[tuple[Decimal, Decimal]], close: Decimal
) -> None:
    """What a candle does in one pass (the book's extremes, then its range) leaves the marks
    as one ``mark`` per range in turn: best, worst, peak and drawdown carried across ranges."""
    at_once, one_by_one = opened(side), opened(side)
    ranges = [(max(a, b), min(a, b)) for a, b in ranges]
    at_once.mark_ranges(close, ranges)
    for high, low in ranges:
        one_by_one.mark(close, high=high, low=low)
    marks = ("best_price", "worst_price", "peak_pnl", "max_drawdown", "last_price")
    assert [getattr(at_once.s, m) for m in marks] == [getattr(one_by_one.s, m) for m in marks]


def test_two_stop_legs_filled_at_one_time_record_the_same_closes_in_either_order() -> None:
    """Two exits at one event time have no market order between them; after an outage the bus
    may hand them over in either order, and the position's record must not depend on which."""
    def closed_by(order: list[str]) -> list[object]:
        p = opened_long()
        pid = p.s.position_id
        legs = {"a": ("0.12", "49000"), "b": ("0.08", "49000")}
        for leg in order:
            qty, price = legs[leg]
            on_order_event(p, filled(pid, f"{pid}-S{leg}", OrderRole.EXIT, price, qty, Side.SELL,
                                     at=T0 + minutes(5), fill_id=f"fill-{leg}"), T0 + minutes(5))
        return [(c.fill_id, c.quantity, c.fees + c.entry_fees, c.realized_pnl) for c in p.s.closes]

    assert closed_by(["a", "b"]) == closed_by(["b", "a"])
