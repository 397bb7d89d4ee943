"""Protective orders a venue refuses for their quantity (below its LOT_SIZE step or minimum,
below its minimum notional). Without the venue's rules for the symbol (none told yet, or wrong)
position cannot round to the step; what it can do is never leave a refusal unanswered: a
refused take-profit split becomes one stop for everything held, a refused stop for everything
held becomes a close at market, and a remainder the venue will neither protect nor sell is
written off instead of being offered again forever."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import (
    CancelOrder,
    ExitReason,
    Message,
    Modification,
    ModificationKind,
    OrderRejected,
    OrderRole,
    OrderType,
    PositionClosed,
    PositionError,
    PositionStatus,
    ReplaceOrder,
    Side,
    SubmitOcoOrder,
    SubmitOrder,
    TriggeredBy,
)
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, wait_until
from robson_position.deps import PositionService
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification, reprotect, request_close
from robson_position.domain.orders import position_id_for
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind

from .factories import T0, D, accepted, filled, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import status_is


def _open(tps: tuple[tuple[str, str], ...] = (("51000", "0.5"), ("52000", "0.5")),
          venue: str = "PAPER") -> Position:
    p = open_position(gate(tps=tps), venue, T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    p.outbox.clear()
    return p


def _refused(p: Position, order_id: str, code: str = "MIN_NOTIONAL") -> OrderRejected:
    return OrderRejected(occurred_at=T0 + minutes(2), account_id="acc1", venue=p.s.venue,
                         order_id=order_id, symbol="BTCUSDT", position_id=p.s.position_id,
                         reason_code=code, message=f"{code}: refused for its quantity")


def _live(p: Position, kind: OrderKind) -> list:  # type: ignore[type-arg]
    return [o for o in p.s.orders.values() if o.live and o.kind is kind]


def _sent(p: Position, kind: type[Message]) -> list:  # type: ignore[type-arg]
    return [m for m in p.outbox if isinstance(m, kind)]


def _errors(p: Position) -> list[str]:
    return [m.reason_code for m in p.outbox if isinstance(m, PositionError)]


def test_partial_close_of_a_third_leaves_no_lone_stop_for_rounding_dust() -> None:
    """0.2 under take-profits of 0.3/0.3/0.4; a third is sold, 0.13333334 is protected again.
    The shares, rounded down, left 0.00000001 under a stop alone: an order no venue takes
    (below any LOT_SIZE step), so that dust stayed unprotected. The last level takes it."""
    p = _open(tps=(("51000", "0.3"), ("52000", "0.3"), ("53000", "0.4")))
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.33333333"), gate(), T0 + minutes(1))
    held = p.s.remaining - sum((o.quantity for o in _live(p, OrderKind.EXIT)), Decimal(0))
    assert held == D("0.13333334")
    lone = [m.order.quantity for m in _sent(p, SubmitOrder) if m.order.role is OrderRole.STOP_LOSS]
    assert lone == [], f"a stop alone for {lone}"
    ocos = _sent(p, SubmitOcoOrder)
    assert sum((m.quantity for m in ocos), Decimal(0)) == held  # the stops cover everything held
    assert [m.quantity for m in ocos] == [D("0.04"), D("0.04"), D("0.05333334")]


def test_take_profit_leg_refused_for_its_quantity_puts_everything_held_under_one_stop() -> None:
    """Half is sold; the 0.1 left is split again into two take-profit OCOs of 0.05. The venue
    refuses the first take-profit leg (MIN_NOTIONAL): with it the OCO's stop was never placed,
    so 0.05 of what is held had no stop and nothing answered the refusal."""
    p = _open()
    pid = p.s.position_id
    assert request_close(p, ExitReason.MANUAL_CLOSE, D("0.5"), gate(), T0 + minutes(1))
    on_order_event(p, filled(pid, f"{pid}-1X", OrderRole.EXIT, "50500", "0.1", Side.SELL,
                             at=T0 + minutes(1)), T0 + minutes(1))
    for leg, role, otype, price in ((f"{pid}-1T1", OrderRole.TAKE_PROFIT, OrderType.LIMIT, "52000"),
                                    (f"{pid}-1S1", OrderRole.STOP_LOSS, OrderType.STOP_MARKET, "49000")):
        on_order_event(p, accepted(pid, leg, role, "0.05", Side.SELL, otype, price=price if role is
                                   OrderRole.TAKE_PROFIT else None, stop=price if role is
                                   OrderRole.STOP_LOSS else None, list_id=f"{pid}-1L1"), T0)
    p.outbox.clear()
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED and p.s.remaining == D("0.1")

    on_order_event(p, _refused(p, f"{pid}-1T0"), T0 + minutes(2))

    placed = [m.order for m in _sent(p, SubmitOrder)]
    assert len(placed) == 1, f"0.05 of the 0.1 held left without a stop; sent {placed}"
    assert not p.s.orders[f"{pid}-1S0"].live, "the refused OCO's stop, never placed, counted as one"
    stops = _live(p, OrderKind.STOP)
    assert sum((o.quantity for o in stops), Decimal(0)) == D("0.1")
    [stop] = placed
    assert (stop.type, stop.quantity, stop.stop_price) == (OrderType.STOP_MARKET, D("0.1"), D("49000"))
    assert _live(p, OrderKind.TP) == [] and not any(tp.live for tp in p.s.take_profits)
    assert [c.list_id for c in _sent(p, CancelOrder)] == [f"{pid}-1L1"]  # the OCO still resting
    assert "PROTECTION_REFUSED" in _errors(p)
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED


def test_lone_stop_refused_for_its_quantity_closes_what_is_held_at_market() -> None:
    """execution places a bracket's stop once the entry is done and reports a refusal
    (QUANTITY_BELOW_MIN): the position held 0.2 with no stop and no order on its way."""
    p = _open(tps=(), venue="LIVE")
    pid = p.s.position_id

    on_order_event(p, _refused(p, f"{pid}-0S", "QUANTITY_BELOW_MIN"), T0 + minutes(2))

    placed = [m.order for m in _sent(p, SubmitOrder)]
    assert len(placed) == 1, f"0.2 held with no stop and nothing sent: {placed}"
    [exit_order] = placed
    assert (exit_order.type, exit_order.quantity, exit_order.role) == (OrderType.MARKET, D("0.2"),
                                                                       OrderRole.EXIT)
    assert p.s.status is PositionStatus.CLOSING
    assert p.s.pending_exit_reason is ExitReason.RISK_LIMIT
    assert "STOP_REFUSED" in _errors(p)


def test_close_refused_for_its_quantity_after_its_stop_was_writes_the_remainder_off() -> None:
    """What is held is below what the venue trades: it refused the stop for it and then the
    market close. Protecting it again would be refused again, and the close after that, for
    ever (a message round trip each). The position closes its books on it instead."""
    p = _open(tps=(), venue="LIVE")
    pid = p.s.position_id
    on_order_event(p, _refused(p, f"{pid}-0S", "NOTIONAL_BELOW_MIN"), T0 + minutes(2))
    p.outbox.clear()
    # the close the refusal asks for (the code before this change asked for none: the same
    # close by hand, so that the refusal of the close below shows what it did then)
    if not _live(p, OrderKind.EXIT):
        assert request_close(p, ExitReason.RISK_LIMIT, None, gate(), T0 + minutes(2))
        p.outbox.clear()
    [exit_order] = _live(p, OrderKind.EXIT)

    on_order_event(p, _refused(p, exit_order.order_id, "NOTIONAL_BELOW_MIN"), T0 + minutes(3))

    assert _sent(p, SubmitOrder) == [] and _sent(p, SubmitOcoOrder) == [], "offered again"
    assert p.s.status is PositionStatus.CLOSED and p.s.remaining == 0
    assert p.s.written_off == D("0.2")
    # valued at the last price (50000, the entry's) without a fee: only the 10 USDT entry fee
    assert p.s.realized_pnl == D("-10.000")
    [closed] = _sent(p, PositionClosed)
    assert closed.exit_reason is ExitReason.RISK_LIMIT
    assert "REMAINDER_WRITTEN_OFF" in _errors(p)


def test_close_refused_for_another_reason_still_puts_the_stop_back() -> None:
    """Only a quantity the venue refuses both ways is written off: a close refused for money
    (its stop was refused for its notional before) is protected again, as any refused exit."""
    p = _open(tps=(), venue="LIVE")
    pid = p.s.position_id
    on_order_event(p, _refused(p, f"{pid}-0S", "NOTIONAL_BELOW_MIN"), T0 + minutes(2))
    [exit_order] = [m.order for m in _sent(p, SubmitOrder)]
    p.outbox.clear()
    on_order_event(p, _refused(p, exit_order.order_id, "INSUFFICIENT_BALANCE"), T0 + minutes(3))
    assert p.s.status is PositionStatus.OPEN and p.s.written_off == 0
    assert sum((o.quantity for o in _live(p, OrderKind.STOP)), Decimal(0)) == D("0.2")


def test_base_fee_dust_left_by_a_filled_stop_ends_written_off_not_held_for_ever() -> None:
    """A LIVE buy of 0.01234 BTC paid 0.00001234 BTC of fee: 0.01232766 held, off the 0.00001
    step, so execution rounds the stop down to 0.01232. It fills; 0.00000766 is left with no
    order. The watchdog places a stop for it: refused (QUANTITY_BELOW_MIN), and nothing more
    happened: the position stayed PARTIALLY_CLOSED for ever (the gate counting it open, the
    trader's next entry on the symbol refused as POSITION_EXISTS), the watchdog re-placing the
    stop and closing it at market round after round."""
    p = open_position(gate(tps=(), qty="0.01234"), "LIVE", T0)
    pid = p.s.position_id
    entry = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.01234", Side.BUY)
    fee = entry.fill.model_copy(update={"fee": D("0.00001234"), "fee_asset": "BTC"})
    on_order_event(p, entry.model_copy(update={"fill": fee}), T0)
    assert p.s.remaining == D("0.01232766")
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.01232", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    on_order_event(p, filled(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "49000", "0.01232", Side.SELL,
                             at=T0 + minutes(5)), T0 + minutes(5))
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED and p.s.remaining == D("0.00000766")
    p.outbox.clear()
    p.s.order_generation += 1  # the watchdog re-protects what is held (handlers/watchdog.py)
    reprotect(p, p.s.remaining, gate(), T0 + minutes(6))
    for _ in range(3):  # each order position sends is refused for its quantity
        sent = [m.order for m in _sent(p, SubmitOrder)]
        if not sent:
            break
        p.outbox.clear()
        on_order_event(p, _refused(p, sent[-1].order_id, "QUANTITY_BELOW_MIN"), T0 + minutes(6))
    assert p.s.status is PositionStatus.CLOSED, f"{p.s.status} holding {p.s.remaining}"
    assert p.s.written_off == D("0.00000766") and _sent(p, SubmitOrder) == []


def test_refused_stop_move_is_not_a_refused_protection() -> None:
    """A venue that refuses a replacement keeps the order it was to replace (paper does): that
    stop still rests, so a refusal of the new id must not place another stop or close."""
    p = _open(tps=(), venue="PAPER")
    pid = p.s.position_id
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("49500")),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    [replace] = _sent(p, ReplaceOrder)
    p.outbox.clear()
    on_order_event(p, _refused(p, replace.new_order_id), T0 + minutes(2))
    assert _sent(p, SubmitOrder) == [] and _sent(p, CancelOrder) == []
    assert p.s.status is PositionStatus.OPEN


async def test_venue_refusing_an_off_step_split_leaves_everything_held_under_one_stop(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    """On real NATS + Postgres (watchdog off): 0.00999 BTC under take-profits of half each.
    Once its second take-profit is cancelled, the rest is protected again as an OCO of 0.004995
    and a stop alone of 0.004995, neither a multiple of the venue's 0.00001 step: both refused.
    The position held 0.00999 with nothing resting at the venue and said nothing more."""
    pid = await off_step_split_with_its_second_take_profit_cancelled(bus, api, venue)
    rested = await wait_until(lambda: _only_stop(venue, pid), timeout=5,
                              message="one stop resting for all 0.00999 held")
    assert (rested.quantity, rested.stop_price) == (D("0.00999"), D("49000"))
    view = (await api.get(f"/positions/{pid}")).json()
    assert view["status"] == "OPEN"
    assert [tp["canceled"] for tp in view["take_profits"]] == [True, True]
    errors = [m for m in await read_stream(bus, "robson.position.evt.>") if isinstance(m, PositionError)]
    assert "PROTECTION_REFUSED" in [e.reason_code for e in errors]


async def off_step_split_with_its_second_take_profit_cancelled(
        bus: Bus, api: httpx.AsyncClient, venue: FakeVenue) -> str:
    """0.00999 BTC opened under two take-profits of half each, the venue's step set to 0.00001,
    then the second take-profit cancelled (protection laid out again): the position's id."""
    g = gate(qty="0.00999")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="open")
    await wait_until(lambda: len(_resting(venue, pid)) == 4, message="bracket children resting")
    venue.step = D("0.00001")
    r = await api.post(f"/positions/{pid}/modifications",
                       json={"modification": {"kind": "CANCEL_TP", "tp_index": 1}})
    assert r.status_code == 200, r.text
    return pid


def _resting(venue: FakeVenue, pid: str) -> list:  # type: ignore[type-arg]
    return [o.spec for o in venue.resting.values() if o.position_id == pid]


def _only_stop(venue: FakeVenue, pid: str) -> object | None:
    resting = _resting(venue, pid)
    return resting[0] if len(resting) == 1 and resting[0].type is OrderType.STOP_MARKET else None


def test_holding_the_venue_trades_by_its_rules_is_never_written_off_when_refused_as_too_large() -> None:
    """Binance's -1013 "Filter failure: LOT_SIZE" / "MARKET_LOT_SIZE" also refuses an order
    above the symbol's maximum. 200 BTC held, its stop and then its market close refused so:
    by the rules the venue told (minimum 0.00001 BTC, 5 USDT) 200 BTC is no dust. Writing it off
    would close the books on 200 BTC still held at the venue, with no stop and nothing watching;
    the position stays open instead (the stop watchdog keeps judging it)."""
    from robson_position.domain.lots import LotRules

    p = open_position(gate(tps=(), qty="200"), "LIVE", T0)
    p.rules = LotRules(step_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5"))
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "200", Side.BUY), T0)
    p.outbox.clear()
    too_large = "Filter failure: LOT_SIZE"
    on_order_event(p, OrderRejected(occurred_at=T0 + minutes(2), account_id="acc1", venue=p.s.venue,
                                    order_id=f"{pid}-0S", symbol="BTCUSDT", position_id=pid,
                                    reason_code="BINANCE_1013", message=too_large), T0 + minutes(2))
    [exit_order] = _live(p, OrderKind.EXIT)
    on_order_event(p, OrderRejected(occurred_at=T0 + minutes(3), account_id="acc1", venue=p.s.venue,
                                    order_id=exit_order.order_id, symbol="BTCUSDT", position_id=pid,
                                    reason_code="BINANCE_1013",
                                    message="Filter failure: MARKET_LOT_SIZE"), T0 + minutes(3))

    assert p.s.written_off == 0 and p.s.remaining == D("200")
    assert p.s.status is not PositionStatus.CLOSED
    assert "REMAINDER_WRITTEN_OFF" not in _errors(p)
