"""Review of 8a36866 (fees paid in BNB valued by the venue, ``Fill.fee_quote``): the fee is
booked only when the fill arrives over the bus. A fill that re-sync applies first (at start-up,
``resync_on_start`` racing the durable consumer; on ``POST /resync``; or the stop watchdog's
re-sync of a position whose stop just filled) is rebuilt from execution's record of it, which
carries no valuation: the BNB fee counts zero, and the bus event that follows, valued, is
dropped as a fill already counted. Realized P&L is then wrong for good."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import (
    Fill,
    OrderFilled,
    OrderRole,
    OrderSpec,
    OrderType,
    PositionStatus,
    Side,
)
from robson_position.adapters.venues import ExecutionReader
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.resync import catch_up
from robson_position.domain.venueview import VenueOrder, VenueView

from .factories import T0, D, accepted, gate, minutes


def _bnb_fill(fill_id: str, price: str, qty: str, fee_bnb: str, fee_quote: str, at: datetime) -> Fill:
    return Fill(fill_id=fill_id, price=D(price), quantity=D(qty), fee=D(fee_bnb), fee_asset="BNB",
                liquidity="TAKER", filled_at=at, fee_quote=D(fee_quote))


def test_stop_fill_paid_in_bnb_caught_up_by_resync_before_its_bus_event_books_the_fee() -> None:
    p = open_position(gate(tps=()), "LIVE", T0)
    pid = p.s.position_id
    on_order_event(p, OrderFilled(
        occurred_at=T0, account_id="acc1", venue="LIVE", order_id=f"{pid}-0E", symbol="BTCUSDT",
        position_id=pid, role=OrderRole.ENTRY, side=Side.BUY,
        fill=_bnb_fill("BTCUSDT-1", "50000", "0.2", "0.0125", "7.5", T0),
        cumulative_quantity=D("0.2"), average_price=D("50000"), remaining_quantity=D(0)), T0)
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    p.outbox.clear()
    stopped = T0 + minutes(5)

    # what execution's API says once the stop filled: its order and its fill, the commission
    # valued as execution valued it for the bus event (fee_quote)
    def order(oid: str, role: OrderRole, side: Side, otype: OrderType, stop: str | None) -> VenueOrder:
        spec = OrderSpec(order_id=oid, symbol="BTCUSDT", side=side, type=otype, quantity=D("0.2"),
                         stop_price=stop, role=role)
        return VenueOrder(spec=spec, status="FILLED", filled_qty=D("0.2"), role=role)

    view = VenueView(
        orders=[order(f"{pid}-0E", OrderRole.ENTRY, Side.BUY, OrderType.MARKET, None),
                order(f"{pid}-0S", OrderRole.STOP_LOSS, Side.SELL, OrderType.STOP_MARKET, "49000")],
        fills=[ExecutionReader._fill({
            "trade_id": 2, "symbol": "BTCUSDT", "client_order_id": "c-0S", "price": "49000",
            "quantity": "0.2", "fee": "0.01225", "fee_asset": "BNB", "fee_quote": "7.35",
            "is_maker": False, "filled_at": stopped.isoformat(), "source": "stream"}, f"{pid}-0S")])
    catch_up(p, view, stopped)
    # then the bus event of the same fill, valued by execution: a fill already counted
    on_order_event(p, OrderFilled(
        occurred_at=stopped, account_id="acc1", venue="LIVE", order_id=f"{pid}-0S", symbol="BTCUSDT",
        position_id=pid, role=OrderRole.STOP_LOSS, side=Side.SELL,
        fill=_bnb_fill("BTCUSDT-2", "49000", "0.2", "0.01225", "7.35", stopped),
        cumulative_quantity=D("0.2"), average_price=D("49000"), remaining_quantity=D(0)), stopped)

    assert p.s.status is PositionStatus.CLOSED
    assert p.s.exit_fees == D("7.35"), f"the stop's BNB commission booked as {p.s.exit_fees} USDT"
    assert p.s.realized_pnl == D("-200") - D("7.5") - D("7.35")
