"""Re-sync with the venue (pure domain): missed fills, ended and missing orders, protection."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import (
    OrderRole,
    OrderSpec,
    OrderType,
    PositionClosed,
    PositionEntryFailed,
    PositionPartiallyClosed,
    PositionStatus,
    Side,
    SubmitOcoOrder,
)
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.position import Position
from robson_position.domain.resync import catch_up
from robson_position.domain.venueview import VenueFill, VenueOrder, VenueView

from .factories import T0, D, accepted, filled, gate, minutes

SELL, BUY = Side.SELL, Side.BUY


def vorder(oid: str, role: OrderRole, side: Side, otype: OrderType, qty: str, status: str,
           filled_qty: str = "0", price: str | None = None, stop: str | None = None) -> VenueOrder:
    spec = OrderSpec(order_id=oid, symbol="BTCUSDT", side=side, type=otype, quantity=qty, price=price,
                     stop_price=stop, role=role)
    return VenueOrder(spec=spec, status=status, filled_qty=D(filled_qty), role=role)


def vfill(oid: str, price: str, qty: str, at: datetime, fill_id: str | None = None) -> VenueFill:
    return VenueFill(fill_id=fill_id or f"f-{oid}", order_id=oid, price=D(price), quantity=D(qty),
                     fee=D(price) * D(qty) * D("0.001"), fee_asset="USDT", liquidity="TAKER", filled_at=at)


def bracket_open() -> tuple[Position, str]:
    """Long 0.2 @ 50000 with both OCO children accepted (the position knows all of it)."""
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", BUY), T0)
    for i, tp in enumerate(("51000", "52000")):
        on_order_event(p, accepted(pid, f"{pid}-0T{i}", OrderRole.TAKE_PROFIT, "0.1", SELL,
                                   OrderType.LIMIT_MAKER, price=tp), T0)
        on_order_event(p, accepted(pid, f"{pid}-0S{i}", OrderRole.STOP_LOSS, "0.1", SELL,
                                   OrderType.STOP_MARKET, stop="49000"), T0)
    p.outbox.clear()
    return p, pid


def venue_after_tp1(pid: str) -> VenueView:
    """At the venue TP1 filled at 51000 and its OCO stop was canceled."""
    orders = [
        vorder(f"{pid}-0E", OrderRole.ENTRY, BUY, OrderType.MARKET, "0.2", "FILLED", "0.2"),
        vorder(f"{pid}-0T0", OrderRole.TAKE_PROFIT, SELL, OrderType.LIMIT_MAKER, "0.1", "FILLED", "0.1",
               price="51000"),
        vorder(f"{pid}-0S0", OrderRole.STOP_LOSS, SELL, OrderType.STOP_MARKET, "0.1", "CANCELED",
               stop="49000"),
        vorder(f"{pid}-0T1", OrderRole.TAKE_PROFIT, SELL, OrderType.LIMIT_MAKER, "0.1", "NEW", price="52000"),
        vorder(f"{pid}-0S1", OrderRole.STOP_LOSS, SELL, OrderType.STOP_MARKET, "0.1", "NEW", stop="49000"),
    ]
    fills = [vfill(f"{pid}-0E", "50000", "0.2", T0), vfill(f"{pid}-0T0", "51000", "0.1", T0 + minutes(3))]
    return VenueView(orders, fills)


def test_resync_with_missed_tp_fill_realizes_it_and_closes_the_canceled_sibling() -> None:
    p, pid = bracket_open()
    findings = catch_up(p, venue_after_tp1(pid), T0 + minutes(10))
    assert [f.kind for f in findings] == ["MISSED_FILL", "ORDER_CANCELED"]
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED
    assert p.s.realized_pnl == D("89.9")  # 100 gross − 5.1 exit fee − 5 entry-fee share
    assert not p.s.orders[f"{pid}-0S0"].live and p.s.take_profits[0].filled
    [partial] = [m for m in p.outbox if isinstance(m, PositionPartiallyClosed)]
    assert partial.realized_pnl == D("89.9") and partial.occurred_at == T0 + minutes(3)


def test_resync_twice_changes_nothing_the_second_time() -> None:
    p, pid = bracket_open()
    catch_up(p, venue_after_tp1(pid), T0 + minutes(10))
    state = p.s.model_dump_json()
    p.outbox.clear()
    assert catch_up(p, venue_after_tp1(pid), T0 + minutes(11)) == []
    assert p.s.model_dump_json() == state and p.outbox == []


def test_bus_fill_redelivered_after_resync_is_not_counted_again() -> None:
    p, pid = bracket_open()
    catch_up(p, venue_after_tp1(pid), T0 + minutes(10))
    on_order_event(p, filled(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "51000", "0.1", SELL,
                             at=T0 + minutes(3)), T0 + minutes(12))
    assert p.s.realized_pnl == D("89.9") and p.s.exit_quantity == D("0.1")


def test_resync_events_get_the_same_ids_on_every_run() -> None:
    a, pid = bracket_open()
    b, _ = bracket_open()
    fa = catch_up(a, venue_after_tp1(pid), T0 + minutes(10))
    fb = catch_up(b, venue_after_tp1(pid), T0 + minutes(10))
    assert [f.event.message_id for f in fa] == [f.event.message_id for f in fb]
    assert [m.model_dump_json() for m in a.outbox] == [m.model_dump_json() for m in b.outbox]


def test_resync_with_every_fill_missed_closes_position_with_exact_pnl() -> None:
    p, pid = bracket_open()
    view = venue_after_tp1(pid)
    view.orders[-1] = vorder(f"{pid}-0S1", OrderRole.STOP_LOSS, SELL, OrderType.STOP_MARKET, "0.1",
                             "FILLED", "0.1", stop="49000")
    view.orders[-2] = vorder(f"{pid}-0T1", OrderRole.TAKE_PROFIT, SELL, OrderType.LIMIT_MAKER, "0.1",
                             "CANCELED", price="52000")
    view.fills.append(vfill(f"{pid}-0S1", "49000", "0.1", T0 + minutes(5)))
    catch_up(p, view, T0 + minutes(10))
    assert p.s.status is PositionStatus.CLOSED
    # TP1 89.9; stop: −100 gross − 4.9 exit fee − 5 entry-fee share = −109.9
    assert p.s.realized_pnl == D("-20.0")
    [closed] = [m for m in p.outbox if isinstance(m, PositionClosed)]
    assert closed.exit_reason.value == "STOP_LOSS" and closed.realized_pnl == D("-20.0")


def test_resync_with_entry_canceled_at_venue_cancels_pending_position() -> None:
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", BUY, OrderType.MARKET), T0)
    view = VenueView([vorder(f"{pid}-0E", OrderRole.ENTRY, BUY, OrderType.MARKET, "0.2", "CANCELED")])
    findings = catch_up(p, view, T0 + minutes(1))
    assert [f.kind for f in findings] == ["ORDER_CANCELED"]
    assert p.s.status is PositionStatus.CANCELED
    assert any(isinstance(m, PositionEntryFailed) for m in p.outbox)


def test_resync_with_unacknowledged_entry_not_at_venue_leaves_it_pending() -> None:
    p = open_position(gate(), "PAPER", T0)
    p.outbox.clear()
    findings = catch_up(p, VenueView(), T0 + minutes(1))
    assert [(f.kind, f.applied) for f in findings] == [("NOT_AT_VENUE", False)]
    assert p.s.status is PositionStatus.PENDING_ENTRY and p.outbox == []


def test_resync_with_accepted_stops_missing_at_venue_places_protection_again() -> None:
    p, pid = bracket_open()
    view = venue_after_tp1(pid)
    view.orders[:] = [o for o in view.orders if o.order_id != f"{pid}-0S1"]  # the venue lost it
    findings = catch_up(p, view, T0 + minutes(10))
    assert [f.kind for f in findings] == ["MISSED_FILL", "ORDER_CANCELED", "ORDER_MISSING", "REPROTECTED"]
    assert not p.s.orders[f"{pid}-0S1"].live
    [oco] = [m for m in p.outbox if isinstance(m, SubmitOcoOrder)]
    assert oco.quantity == D("0.1") and oco.stop_price == D("49000") and oco.take_profit_price == D("52000")
    assert oco.stop_order_id == f"{pid}-1S1" and p.s.orders[f"{pid}-1S1"].live


def test_resync_adopts_a_venue_order_the_position_never_heard_of() -> None:
    p, pid = bracket_open()
    view = venue_after_tp1(pid)
    view.orders.append(vorder(f"{pid}-0Z", OrderRole.STOP_LOSS, SELL, OrderType.STOP_MARKET, "0.1", "NEW",
                              stop="49000"))
    findings = catch_up(p, view, T0 + minutes(10))
    assert "ORDER_ADOPTED" in [f.kind for f in findings]
    assert p.s.orders[f"{pid}-0Z"].live and p.s.orders[f"{pid}-0Z"].accepted
