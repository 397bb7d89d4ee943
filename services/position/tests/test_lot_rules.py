"""Protective orders and partial closes sized by the venue's lot rules for the symbol (its
``SymbolRules``: LOT_SIZE step, minimum quantity, minimum notional), when it told them: every
quantity on the step, the stops covering everything held (what is below one step is dust), no
level sent that the venue would refuse as too small. Without rules, sizes are as before and
``refusals.py`` answers what a venue refuses."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import (
    ExitReason,
    OrderRole,
    OrderType,
    PositionStatus,
    Side,
    SubmitOcoOrder,
    SubmitOrder,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.lots import LotRules, fit_split
from robson_position.domain.management import reprotect, request_close
from robson_position.domain.position import Position

from .factories import T0, D, filled, gate, minutes

BTC = LotRules(step_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5"))
"""paper's and Binance's BTCUSDT lot rules."""


def _open(qty: str, tps: tuple[tuple[str, str], ...] = (("51000", "0.5"), ("52000", "0.5")),
          rules: LotRules | None = BTC, fee_btc: str | None = None) -> Position:
    p = open_position(gate(qty=qty, tps=tps), "PAPER", T0)
    pid = p.s.position_id
    entry = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", qty, Side.BUY)
    if fee_btc is not None:  # Binance takes a buy's fee from the base asset bought
        entry = entry.model_copy(update={"fill": entry.fill.model_copy(
            update={"fee": D(fee_btc), "fee_asset": "BTC"})})
    on_order_event(p, entry, T0)
    p.outbox.clear()
    p.rules = rules
    return p


def _protect_again(p: Position) -> tuple[list[SubmitOcoOrder], list[Decimal]]:
    """What the watchdog or a re-sync sends for everything held: (OCOs, stops alone)."""
    p.s.order_generation += 1
    reprotect(p, p.s.remaining, gate(), T0 + minutes(1))
    ocos = [m for m in p.outbox if isinstance(m, SubmitOcoOrder)]
    stops = [m.order.quantity for m in p.outbox
             if isinstance(m, SubmitOrder) and m.order.role is OrderRole.STOP_LOSS]
    return ocos, stops


def _on_step(quantity: Decimal) -> bool:
    return quantity % BTC.step_size == 0


def test_take_profit_halves_of_an_off_step_quantity_leave_nothing_uncovered_when_the_step_is_known() -> None:
    """0.00999 BTC under take-profits of half each: 0.004995 asked per half, which the venue
    cuts to 0.00499 each, so 0.00001 BTC rested under no stop. On the step: 0.00499 and the
    last level the rest, 0.005."""
    p = _open("0.00999")
    ocos, stops = _protect_again(p)
    assert [m.quantity for m in ocos] == [D("0.00499"), D("0.005")]
    assert stops == []
    assert sum((m.quantity for m in ocos), Decimal(0)) == p.s.remaining == D("0.00999")
    assert all(_on_step(m.quantity) for m in ocos)


def test_without_the_venue_rules_the_split_is_sized_as_before() -> None:
    p = _open("0.00999", rules=None)
    ocos, stops = _protect_again(p)
    assert [m.quantity for m in ocos] == [D("0.004995"), D("0.004995")] and stops == []


def test_the_stop_covers_everything_held_cut_down_to_the_step_the_rest_is_dust() -> None:
    """A LIVE buy of 0.01 BTC paid 0.0000075 BTC of fee: 0.0099925 held. The stop is asked for
    0.00999, what the venue places, not for a quantity it would cut (or refuse, strict)."""
    p = _open("0.01", tps=(), fee_btc="0.0000075")
    assert p.s.remaining == D("0.0099925")
    ocos, stops = _protect_again(p)
    assert ocos == [] and stops == [D("0.00999")]


def test_a_take_profit_share_below_the_venue_minimum_is_folded_into_its_neighbour() -> None:
    """0.002 BTC (100 USDT): 5 % at 51000 would be an OCO of 0.0001, 4.90 USDT at its 49000
    stop, below the 5 USDT minimum notional: refused, and with it the stop of that share. It
    is sold with the next level instead; the stop alone keeps the rest."""
    p = _open("0.002", tps=(("51000", "0.05"), ("52000", "0.45")))
    ocos, stops = _protect_again(p)
    assert [(m.take_profit_price, m.quantity) for m in ocos] == [(D("52000"), D("0.001"))]
    assert stops == [D("0.001")]
    assert p.s.take_profits[0].live, "the level stays: a later split may place it again"


def test_a_stop_alone_too_small_for_the_venue_joins_the_last_take_profit() -> None:
    """Take-profits of 49.5 % each on 0.002 BTC leave 0.00002 (0.98 USDT) to a stop alone: an
    order the venue refuses. Its OCO stop covers it with the last level."""
    p = _open("0.002", tps=(("51000", "0.495"), ("52000", "0.495")))
    ocos, stops = _protect_again(p)
    assert [m.quantity for m in ocos] == [D("0.00099"), D("0.00101")] and stops == []


def test_what_no_stop_could_protect_is_sent_as_before_for_the_refusal_to_answer() -> None:
    """0.00008 BTC (3.92 USDT at the stop): no order for it is taken. Nothing on the grid can
    protect it, so it is sent as before and the venue's refusal is answered (refusals.py)."""
    p = _open("0.00008", tps=())
    assert _protect_again(p) == ([], [D("0.00008")])


def test_partial_close_quantity_is_cut_down_to_the_step_and_the_rest_protected_on_it() -> None:
    p = _open("0.00999")
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.3333"), gate(), T0 + minutes(1))
    [exit_order] = [m.order for m in p.outbox if isinstance(m, SubmitOrder)
                    and m.order.type is OrderType.MARKET]
    assert exit_order.quantity == D("0.00332")  # 0.00332966 before: off the step
    ocos = [m.quantity for m in p.outbox if isinstance(m, SubmitOcoOrder)]
    assert ocos == [D("0.00333"), D("0.00334")] and sum(ocos, Decimal(0)) == D("0.00667")


def test_partial_close_that_would_leave_too_little_to_protect_closes_everything() -> None:
    """80 % of 0.0003 BTC would leave 0.00006 (2.94 USDT at the stop): no stop the venue takes,
    so that rest would be left unprotected. All of it is closed."""
    p = _open("0.0003", tps=())
    assert request_close(p, ExitReason.TAKE_PROFIT, D("0.8"), gate(), T0 + minutes(1))
    [exit_order] = [m.order for m in p.outbox if isinstance(m, SubmitOrder)]
    assert (exit_order.type, exit_order.quantity) == (OrderType.MARKET, D("0.0003"))
    assert p.s.status is PositionStatus.CLOSING


def test_partial_close_below_the_venue_minimum_is_not_sent_to_be_refused() -> None:
    """1 % of 0.002 BTC is 0.00002 (1 USDT): the venue refuses it. Nothing is sent."""
    p = _open("0.002", tps=())
    assert not request_close(p, ExitReason.TAKE_PROFIT, D("0.01"), gate(), T0 + minutes(1))
    assert p.outbox == [] and p.s.status is PositionStatus.OPEN


@settings(max_examples=300, deadline=None)
@given(held=st.decimals(min_value=D("0.0001"), max_value=D("2"), places=8),
       fractions=st.lists(st.decimals(min_value=D("0.01"), max_value=D("0.6"), places=2),
                          min_size=0, max_size=4),
       covers_all=st.booleans())
def test_a_fitted_split_is_on_the_step_covers_all_it_can_and_sends_nothing_refused(
        held: Decimal, fractions: list[Decimal], covers_all: bool) -> None:
    total = sum(fractions, Decimal(0))
    if covers_all and fractions:
        fractions = [f / total for f in fractions]
    elif total >= 1:
        fractions = [f / (total * 2) for f in fractions]
    prices = [D("51000") + 1000 * i for i in range(len(fractions))]
    fitted = fit_split(held, fractions, covers_all and bool(fractions), BTC, prices, D("49000"))
    if fitted is None:
        assert not BTC.tradable(BTC.floor(held), D("49000"))
        return
    parts, rest = fitted
    assert sum(parts, Decimal(0)) + rest == BTC.floor(held) > held - BTC.step_size
    for qty, price in [*zip(parts, prices, strict=True), (rest, None)]:
        assert qty >= 0 and _on_step(qty)
        assert qty == 0 or BTC.tradable(qty, price, D("49000"))
