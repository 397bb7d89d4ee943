"""Fees taken in the base asset, take-profit fractions counted over filled levels, and a
take-profit filled late after protection was re-placed."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import (
    ExitReason,
    Fill,
    Modification,
    ModificationKind,
    OrderFilled,
    OrderRole,
    PositionOpened,
    PositionStatus,
    Side,
    SubmitOrder,
    TriggeredBy,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import request_close
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.validation import Request, validate

from .factories import T0, D, filled, gate, minutes


def _live_fill(p: Position, order_id: str, role: OrderRole, side: Side, price: str, fee: str,
               fee_asset: str, fee_quote: str | None = None, at: datetime = T0) -> None:
    """A LIVE Binance fill of 0.2 BTCUSDT with its commission as Binance reports it."""
    on_order_event(p, OrderFilled(
        occurred_at=at, account_id="acc1", venue="LIVE", order_id=order_id, symbol="BTCUSDT",
        position_id=p.s.position_id, role=role, side=side,
        fill=Fill(fill_id=f"f-{order_id}", price=D(price), quantity=D("0.2"), fee=D(fee),
                  fee_asset=fee_asset, liquidity="TAKER", filled_at=at,
                  fee_quote=D(fee_quote) if fee_quote else None),
        cumulative_quantity=D("0.2"), average_price=D(price), remaining_quantity=D(0)), at)


def _base_fee_entry() -> Position:
    """A LIVE Binance BUY charged its commission in BTC: 0.2 bought, 0.1998 received."""
    p = open_position(gate(tps=()), "LIVE", T0)
    _live_fill(p, f"{p.s.position_id}-0E", OrderRole.ENTRY, Side.BUY, "50000", "0.0002", "BTC")
    p.outbox.clear()
    return p


def test_base_asset_entry_fee_reduces_what_a_close_sells_and_pnl_counts_it_once() -> None:
    p = _base_fee_entry()
    assert p.s.remaining == D("0.1998")
    assert request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0)
    [exit_order] = [m for m in p.outbox if isinstance(m, SubmitOrder)]
    assert exit_order.order.quantity == D("0.1998")  # 0.2 is more than the account holds
    on_order_event(p, filled(p.s.position_id, exit_order.order.order_id, OrderRole.EXIT, "51000", "0.1998",
                             Side.SELL, fee_rate="0"), T0 + minutes(5))
    assert p.s.status is PositionStatus.CLOSED
    # cash: 0.1998 × 51000 − 0.2 × 50000 = 189.8 (the 0.0002 BTC fee, worth 10 USDT, counted once)
    assert p.s.realized_pnl == D("189.8")


def test_base_asset_entry_fee_is_not_in_the_opened_quantity_subscribers_see() -> None:
    """entry_gate counts a partial close as the opened quantity less the remaining one: an
    opened quantity with the kept fee in it would count the fee as sold."""
    p = open_position(gate(tps=()), "LIVE", T0)
    _live_fill(p, f"{p.s.position_id}-0E", OrderRole.ENTRY, Side.BUY, "50000", "0.0002", "BTC")
    [opened] = [m for m in p.outbox if isinstance(m, PositionOpened)]
    assert opened.quantity == D("0.1998") == p.s.remaining


def test_add_take_profit_counts_the_fractions_already_filled() -> None:
    p = open_position(gate(), "PAPER", T0)  # two take-profits of 0.5 of the entered 0.2
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    on_order_event(p, filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "51000", "0.1", Side.SELL), T0)
    assert p.s.take_profits[0].filled and p.s.remaining == D("0.1")
    p.mark(D("51000"))
    mod = Modification(kind=ModificationKind.ADD_TP, new_value=D("53000"), fraction=D("0.5"))
    req = Request(mod, TriggeredBy.USER_MANUAL, False, T0 + minutes(10), D("51000"))
    # 0.5 filled + 0.5 live + 0.5 asked = 1.5 of the position: accepting it silently halves the
    # live take-profit's share (the layout scales every share down to the 0.1 held)
    assert "TP_FRACTION_UNAVAILABLE" in [v.name for v in validate(p, req, ManagementPolicy())]


def test_take_profit_filled_while_a_partial_close_replaced_it_leaves_no_oversold_protection() -> None:
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    p.outbox.clear()
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.5"), gate(), T0)  # sells 0.1, protects 0.1
    # the old take-profit filled before its cancel reached the venue
    on_order_event(p, filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "51000", "0.1", Side.SELL,
                             at=T0 + minutes(1)), T0 + minutes(1))
    assert p.s.remaining == D("0.1")
    live = [o for o in p.s.orders.values() if o.live]
    exits = sum((o.quantity for o in live if o.kind.value == "EXIT"), D(0))
    by_list: dict[str, D] = {}
    for o in live:
        if o.kind.value in ("STOP", "TP"):
            by_list[o.list_id or o.order_id] = o.quantity
    committed = exits + sum(by_list.values(), D(0))
    assert committed <= p.s.remaining, f"{committed} to sell, {p.s.remaining} held"


def test_fees_paid_in_bnb_and_valued_by_the_venue_count_in_realized_pnl() -> None:
    """An account paying its fees with BNB: neither asset of BTCUSDT, so only the venue can price
    them (``Fill.fee_quote``); counted as zero they would hide 15 USDT of costs from the limits."""
    p = open_position(gate(tps=()), "LIVE", T0)
    _live_fill(p, f"{p.s.position_id}-0E", OrderRole.ENTRY, Side.BUY, "50000", "0.0125", "BNB", "7.5")
    assert p.s.remaining == D("0.2")  # a BNB fee takes nothing from the BTC bought
    assert request_close(p, ExitReason.MANUAL_CLOSE, None, gate(), T0)
    [exit_order] = [m for m in p.outbox if isinstance(m, SubmitOrder)]
    _live_fill(p, exit_order.order.order_id, OrderRole.EXIT, Side.SELL, "51000", "0.0125", "BNB",
               "7.65", at=T0 + minutes(5))
    assert p.s.status is PositionStatus.CLOSED
    assert p.s.realized_pnl == D("200") - D("7.5") - D("7.65")
