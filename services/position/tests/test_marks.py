"""Marks: the best and worst prices a position saw, and the peak of its total P&L and the
largest fall from that peak, against the definition written out here with the P&L helpers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import OrderRole, Side
from robson_position.domain import pnl
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.position import Position
from robson_position.domain.state import PositionState

from .factories import T0, D, filled, gate

PRICES = st.decimals(min_value=D("80"), max_value=D("120"), places=2)
MARK = st.tuples(PRICES, st.one_of(st.none(), PRICES), st.one_of(st.none(), PRICES))


def _opened(side: str) -> Position:
    if side == "LONG":
        p = open_position(gate(side="LONG", qty="1", stop="90", tps=(("130", "1"),)), "PAPER", T0)
        entry_side = Side.BUY
    else:
        p = open_position(gate(side="SHORT", qty="1", stop="110", tps=(("70", "1"),)), "PAPER", T0)
        entry_side = Side.SELL
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "100", "1",
                             entry_side), T0)
    return p


def _reference_mark(s: PositionState, price: Decimal, high: Decimal | None,
                    low: Decimal | None) -> None:
    """Each of best, worst and price in turn: a new best/worst when the move from the held one
    is favourable/adverse, then the running peak of realized + unrealized and the largest fall."""
    s.last_price = price
    assert s.entry_price is not None
    hi, lo = high or price, low or price
    best, worst = (hi, lo) if s.side.value == "LONG" else (lo, hi)
    if s.best_price is None or pnl.pct_move(s.side, s.best_price, best) > 0:
        s.best_price = best
    if s.worst_price is None or pnl.pct_move(s.side, s.worst_price, worst) < 0:
        s.worst_price = worst
    for p in (best, worst, price):
        total = s.realized_pnl + pnl.gross_pnl(s.side, s.entry_price, p, s.remaining)
        s.peak_pnl = max(s.peak_pnl, total)
        s.max_drawdown = max(s.max_drawdown, s.peak_pnl - total)


@settings(max_examples=150, deadline=None)
@given(side=st.sampled_from(["LONG", "SHORT"]), marks=st.lists(MARK, min_size=1, max_size=12),
       realized=st.decimals(min_value=D("-5"), max_value=D("5"), places=3),
       exited=st.sampled_from([D("0"), D("0.25"), D("0.5")]))
def test_marks_follow_the_definition_for_both_sides_and_partly_closed_positions(
        side: str, marks: list[tuple[Decimal, Decimal | None, Decimal | None]], realized: Decimal,
        exited: Decimal) -> None:
    position = _opened(side)
    position.s.realized_pnl = realized  # as after a partial exit (its P&L counts in the total)
    position.s.exit_quantity = exited
    expected = position.s.model_copy(deep=True)
    for price, high, low in marks:
        position.mark(price, high=high, low=low)
        _reference_mark(expected, price, high, low)
        got = position.s
        assert (got.best_price, got.worst_price, got.last_price) == \
            (expected.best_price, expected.worst_price, expected.last_price)
        assert (got.peak_pnl, got.max_drawdown) == (expected.peak_pnl, expected.max_drawdown)


def test_a_long_that_rises_then_falls_keeps_its_peak_and_the_fall_from_it() -> None:
    position = _opened("LONG")  # 1 unit entered at 100
    position.mark(D("104"), high=D("106"), low=D("103"))
    position.mark(D("99"), high=D("101"), low=D("98"))
    s = position.s
    assert (s.best_price, s.worst_price) == (D("106"), D("98"))
    assert s.peak_pnl == D("6")  # at 106
    assert s.max_drawdown == D("8")  # 106 → 98
