"""Review 2 of lot sizing from the venues' symbol rules and of fees booked in the quote asset."""

from __future__ import annotations

from robson_contracts import (
    ExitReason,
    OrderRole,
    Side,
    SubmitOrder,
    SymbolRules,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.lots import LotRules
from robson_position.domain.management import reprotect, request_close
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind

from .factories import T0, D, filled, gate, minutes

T_RULES = SymbolRules(occurred_at=T0, venue="LIVE", symbol="TUSDT", base_asset="T", quote_asset="USDT",
                      tick_size="0.00001", step_size="1", min_qty="1", min_notional="5")
"""Binance's T/USDT (Threshold): its base asset "T" is also the last letter of its quote."""


def _long_tusdt_paying_its_fee_in_t() -> Position:
    """A LIVE buy of 1000 T at 0.02 USDT; Binance takes the buy's commission, 1 T, from the T
    bought: 999 T are held, and the fee is worth 1 × 0.02 = 0.02 USDT."""
    p = open_position(gate(qty="1000", stop="0.019", tps=(), symbol="TUSDT"), "LIVE", T0)
    p.rules = LotRules.of(T_RULES)  # as Runtime.equip sets them before every order event
    pid = p.s.position_id
    entry = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "0.02", "1000", Side.BUY, symbol="TUSDT")
    entry = entry.model_copy(update={"fill": entry.fill.model_copy(update={"fee": D("1"), "fee_asset": "T"})})
    on_order_event(p, entry, T0)
    p.outbox.clear()
    return p


def test_a_base_asset_that_ends_its_quote_s_name_still_pays_its_fee_out_of_what_is_held() -> None:
    """``pnl.fee_in_quote``/``fee_in_base`` read the fee asset off the symbol's name: "TUSDT"
    ends with "T", so the 1 T commission was booked as 1 USDT (50× its worth) and counted as
    held. execution (which reads the base asset from the exchange rules) protects 999 T; the
    position asks its stops and closes for 1000 T, which Binance refuses for want of balance
    (not a quantity refusal: no answer), leaving the holding without a stop."""
    p = _long_tusdt_paying_its_fee_in_t()
    assert p.s.remaining == D("999"), f"{p.s.remaining} T counted as held, 999 are"
    assert p.s.entry_fees == D("0.02"), f"a 1 T commission booked as {p.s.entry_fees} USDT"
    p.s.order_generation += 1
    reprotect(p, p.s.remaining, gate(), T0 + minutes(1))
    stops = [m.order.quantity for m in p.outbox
             if isinstance(m, SubmitOrder) and m.order.role is OrderRole.STOP_LOSS]
    assert stops == [D("999")]


def test_a_short_s_buy_back_paying_its_fee_in_a_base_that_ends_the_quote_is_valued_at_the_price() -> None:
    """A SHORT of 1000 T sold at 0.02, bought back at 0.018: Binance takes the buy's commission,
    1 T, from the T bought, worth 0.018 USDT. Read as a quote fee it cost 1 USDT: the realized
    P&L is 2 - 0.02 - 0.018 = 1.962 USDT, not 0.98."""
    p = open_position(gate(side="SHORT", qty="1000", stop="0.021", tps=(), symbol="TUSDT"), "LIVE", T0)
    p.rules = LotRules.of(T_RULES)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "0.02", "1000", Side.SELL,
                             symbol="TUSDT"), T0)
    assert p.s.entry_fees == D("0.02")
    back = filled(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.018", "1000", Side.BUY, symbol="TUSDT",
                  at=T0 + minutes(5))
    back = back.model_copy(update={"fill": back.fill.model_copy(update={"fee": D("1"), "fee_asset": "T"})})
    on_order_event(p, back, T0 + minutes(5))
    assert p.s.exit_fees == D("0.018"), f"a 1 T commission booked as {p.s.exit_fees} USDT"
    assert p.s.realized_pnl == D("1.962")


def test_a_second_partial_close_before_the_first_filled_never_asks_to_sell_more_than_is_held() -> None:
    """0.2 BTC held. The trader closes half (0.1 at market, the stop re-placed for 0.1); before
    that exit fills (paper fills a market order on its next price) half again is asked. The
    share and the rest were measured on all 0.2, the first exit's 0.1 included: a second exit
    of 0.1 and a stop for 0.1 while the first exit still sells 0.1 — 0.3 asked of 0.2 held.
    The stop is then for more than is held once the exits fill (refused for want of funds, not
    answered: nothing protects what is held) or one exit is refused."""
    p = open_position(gate(qty="0.2", tps=()), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    p.rules = LotRules(D("0.00001"), D("0.00001"), D("5"))
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.5"), gate(), T0 + minutes(1))
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.5"), gate(), T0 + minutes(2))
    live = [o for o in p.s.orders.values() if o.live]
    exits = sum((o.quantity for o in live if o.kind is OrderKind.EXIT), D(0))
    stops = sum((o.quantity for o in live if o.kind is OrderKind.STOP), D(0))
    assert exits + stops == p.s.remaining == D("0.2"), f"exits {exits} + stops {stops} of 0.2 held"
    assert (exits, stops) == (D("0.15"), D("0.05"))
