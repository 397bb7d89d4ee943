"""``acts_on_no_candle``: the backtest holds a position's quiet candles back on its word, so it
must never say yes where ``evaluate`` could act on some candle."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import OrderRole, Side
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.rules import acts_on_no_candle, evaluate

from .factories import T0, D, filled, gate

RULES = {
    "time_exit_minutes": st.integers(1, 600),
    "breakeven_trigger_pct": st.decimals("0.1", "5", places=2),
    "trailing_pct": st.decimals("0.1", "5", places=2),
    "trailing_atr_multiple": st.decimals("0.5", "4", places=1),
}


def _long_at(entry: str) -> Position:
    p = open_position(gate(), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, entry,
                             "0.2", Side.BUY), T0)
    p.outbox.clear()
    return p


@st.composite
def _policies(draw: st.DrawFn) -> ManagementPolicy:
    chosen = draw(st.sets(st.sampled_from(sorted(RULES))))
    return ManagementPolicy(trailing_interval_seconds=0, trailing_min_step_pct=D(0),
                            min_stop_distance_pct=D(0),
                            **{name: draw(RULES[name]) for name in chosen})


@settings(max_examples=300, deadline=None)
@given(policy=_policies(), trail=st.none() | st.decimals("0.1", "5", places=2),
       rise=st.decimals("0", "20", places=2), held=st.integers(0, 2000),
       atr=st.none() | st.decimals("1", "3000", places=0))
def test_rules_that_act_on_no_candle_let_no_candle_act(policy: ManagementPolicy,
                                                       trail: Decimal | None, rise: Decimal,
                                                       held: int, atr: Decimal | None) -> None:
    p = _long_at("50000")
    best = D("50000") * (1 + rise / 100)
    p.s.best_price, p.s.last_price, p.s.trail_percent = best, best, trail
    acted = evaluate(p, policy, T0 + timedelta(minutes=held), atr) is not None
    if acts_on_no_candle(policy, trail):
        assert not acted


def test_each_candle_rule_and_a_set_trail_can_act_so_the_predicate_says_no() -> None:
    """The property above holds trivially if the predicate always said no: each rule alone
    acts on some candle, and the predicate names each one."""
    up = D("55000")  # +10%: past any trigger above, and a trail's stop well above the entry's
    cases = [(ManagementPolicy(time_exit_minutes=5), None),
             (ManagementPolicy(breakeven_trigger_pct=D(1)), None),
             (ManagementPolicy(trailing_pct=D(1), trailing_interval_seconds=0), None),
             (ManagementPolicy(trailing_atr_multiple=D(1), trailing_interval_seconds=0), None),
             (ManagementPolicy(trailing_interval_seconds=0), D(1))]
    for policy, trail in cases:
        p = _long_at("50000")
        p.s.best_price, p.s.last_price, p.s.trail_percent = up, up, trail
        assert evaluate(p, policy, T0 + timedelta(hours=1), D(500)) is not None, policy
        assert not acts_on_no_candle(policy, trail), policy
    p = _long_at("50000")
    p.s.best_price = p.s.last_price = up
    assert evaluate(p, ManagementPolicy(), T0 + timedelta(hours=1), D(500)) is None
    assert acts_on_no_candle(ManagementPolicy(), None)
