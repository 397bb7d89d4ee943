"""Review: protective orders refused for their price (``domain/price_refusals.py``), in
scenarios the landing tests did not cover."""

from __future__ import annotations

import httpx
from robson_contracts import (
    CancelOrder,
    ExitReason,
    Modification,
    ModificationKind,
    OrderPartiallyFilled,
    OrderRejected,
    OrderRole,
    OrderType,
    Side,
    SubmitOrder,
    TradeTick,
    TriggeredBy,
)
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification
from robson_position.domain.orders import position_id_for
from robson_position.domain.state import OrderKind
from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.market import apply_tick
from robson_position.handlers.orders import handle_order_event

from .factories import (
    T0,
    D,
    accepted,
    exit_orders,
    filled,
    gate,
    minutes,
    refused,
)


def test_paper_stop_move_refused_on_an_oco_and_the_lone_stop_leaves_no_resting_stop_behind() -> None:
    """LONG 0.2: one take-profit OCO for half (51000 / stop 49000) and a lone stop 49000 for
    the rest, both accepted by paper. The stop is moved to 50500 while the market is below it:
    paper refuses both replacements (the OCO's stop leg PRICE_RELATIONSHIP, the lone stop
    STOP_WOULD_TRIGGER) and KEEPS both old orders resting. The first refusal closes all 0.2 at
    market and cancels what it counts live; the lone stop's replacement is counted live then
    (its refusal not heard yet), so the cancel goes to the refused id, answered UNKNOWN_ORDER,
    and the old lone stop paper kept rests on: it holds 0.1 BTC (the market close of 0.2 is
    then refused for balance at paper) and would sell 0.1 more than is held later."""
    p = open_position(gate(tps=(("51000", "0.5"),)), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    on_order_event(p, accepted(pid, f"{pid}-0T0", OrderRole.TAKE_PROFIT, "0.1", Side.SELL, OrderType.LIMIT,
                               price="51000", list_id=f"{pid}-0L0"), T0)
    on_order_event(p, accepted(pid, f"{pid}-0S0", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000", list_id=f"{pid}-0L0"), T0)
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    p.outbox.clear()
    apply_modification(p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("50500")),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    replaced = {m.order_id: m.new_order_id for m in p.outbox if type(m).__name__ == "ReplaceOrder"}
    assert set(replaced) == {f"{pid}-0S0", f"{pid}-0S"}
    p.outbox.clear()

    # paper answers the replacements in the order sent; both refused, both old orders kept
    on_order_event(p, refused(p, replaced[f"{pid}-0S0"], "PRICE_RELATIONSHIP",
                               "SELL OCO stop 50500 is not below the last price 50400", minute=1), T0 + minutes(1))
    on_order_event(p, refused(p, replaced[f"{pid}-0S"], "STOP_WOULD_TRIGGER",
                               "SELL stop 50500 would trigger at once (last price 50400)", minute=1), T0 + minutes(1))

    [exit_order] = exit_orders(p)
    assert exit_order.quantity == D("0.2")
    cancels = [m for m in p.outbox if isinstance(m, CancelOrder)]
    kept_lone_stop = f"{pid}-0S"
    canceled = {c.order_id for c in cancels} | {c.list_id for c in cancels}
    assert kept_lone_stop in canceled or p.s.orders[kept_lone_stop].live, (
        f"paper kept {kept_lone_stop} resting (0.1 BTC) and position neither cancels nor tracks it: "
        f"cancels sent {sorted(x for x in canceled if x)}")


def test_entry_filled_in_two_trades_through_its_stop_closes_both_not_only_the_first() -> None:
    """LIVE: the market entry of 0.2 is reported as two trades of 0.1 at 48500, below the
    49000 stop (Binance's executionReport per trade; execution places the children after the
    first fill, resizing them as more fills arrive). The stop for the first 0.1 is refused as
    through the market: 0.1 is closed at market. The second 0.1 arrives; the close fills; the
    0.1 still held goes back under a stop, refused again for its price. The first close WORKED,
    so there is no refusal/close loop to guard against, yet the guard (``stop_through_for``,
    a bare quantity: 0.1 then, 0.1 now) takes it for one: the 0.1 is left below its stop with
    no stop and no close until the stop watchdog's grace has passed."""
    p = open_position(gate(tps=()), "LIVE", T0)
    pid = p.s.position_id
    first = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "48500", "0.1", Side.BUY, fill_id="e1")
    data = first.model_dump(exclude={"message_type"}) | {"remaining_quantity": D("0.1")}
    on_order_event(p, OrderPartiallyFilled(**data), T0)
    on_order_event(p, refused(p, f"{pid}-0S", "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))
    [close_first] = exit_orders(p)
    assert close_first.quantity == D("0.1")
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "48500", "0.1", Side.BUY, fill_id="e2",
                             at=T0 + minutes(1)), T0 + minutes(1))
    on_order_event(p, filled(pid, close_first.order_id, OrderRole.EXIT, "48450", "0.1", Side.SELL,
                             at=T0 + minutes(1)), T0 + minutes(1))
    assert p.s.remaining == D("0.1")
    [stop] = [m.order for m in p.outbox if isinstance(m, SubmitOrder) and m.order.role is OrderRole.STOP_LOSS]
    p.outbox.clear()

    on_order_event(p, refused(p, stop.order_id, "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))

    assert [o.quantity for o in exit_orders(p)] == [D("0.1")], (
        "0.1 held below its stop, its stop refused, and nothing sent: left to the watchdog")


def test_live_stop_resized_for_a_later_entry_fill_and_refused_as_through_closes_at_market() -> None:
    """LIVE: the market entry of 0.2 fills 0.1 at 49100, then 0.1 at 48950, below the 49000
    stop. execution placed the lone stop for the first 0.1 (accepted) and resizes it for the
    second: it cancels it (silently) and places it again under the SAME order id
    (``handlers/brackets.py``), and Binance refuses that: "Stop price would trigger
    immediately." The position holds 0.2 below its stop with no stop at all; the refusal is
    ignored because the order id was accepted once (``tracked.accepted``), so it is left to
    the stop watchdog, the very wait this change meant to remove."""
    p = open_position(gate(tps=()), "LIVE", T0)
    pid = p.s.position_id
    first = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "49100", "0.1", Side.BUY, fill_id="e1")
    data = first.model_dump(exclude={"message_type"}) | {"remaining_quantity": D("0.1")}
    on_order_event(p, OrderPartiallyFilled(**data), T0)
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "48950", "0.1", Side.BUY, fill_id="e2"), T0)
    p.outbox.clear()

    on_order_event(p, refused(p, f"{pid}-0S", "BINANCE_2010", "Stop price would trigger immediately.", minute=1),
                   T0 + minutes(1))

    assert not [o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert [o.quantity for o in exit_orders(p)] == [D("0.2")], (
        "0.2 held below its stop, the stop refused as through the market, nothing sent")


async def test_take_profit_moved_and_refused_as_passed_sells_its_share_with_the_ticks_price_known(
    service: PositionService, api: httpx.AsyncClient,
) -> None:
    """As the service runs: the entry filled at 50000, the stored last price is that fill's (it
    moves on closed candles and fills only); ticks have taken the market to 50700 (position's
    mark book knows). The trader lowers the first take-profit to 50800 (validated against
    50700), and before paper admits it the market trades 50900: paper refuses the moved
    take-profit, PRICE_RELATIONSHIP ("take-profit 50800 is not above the last price 50900").
    The market is beyond the target, a better price: that share (0.1) should be sold, as the
    landing test with a fresh stored mark shows. Here the refusal is judged on the stored
    50000, on neither side, so the stop is taken as through: ALL 0.2 are sold at market as a
    STOP_LOSS and the second take-profit is dropped, for a take-profit that was merely moved."""
    rt = service.deps.runtime
    g = gate(gate_id="g-tp-move")
    async with service.uow() as uow:
        await handle_gate_decision(g, uow, rt)
    pid = position_id_for(g.gate_decision_id)
    events = [accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET),
              filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY)]
    for i, price in enumerate(("51000", "52000")):
        events += [accepted(pid, f"{pid}-0T{i}", OrderRole.TAKE_PROFIT, "0.1", Side.SELL, OrderType.LIMIT,
                            price=price, list_id=f"{pid}-0L{i}"),
                   accepted(pid, f"{pid}-0S{i}", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                            OrderType.STOP_MARKET, stop="49000", list_id=f"{pid}-0L{i}")]
    async with service.uow() as uow:
        for event in events:
            await handle_order_event(event, uow, rt)
    apply_tick(TradeTick(occurred_at=T0 + minutes(1), symbol="BTCUSDT", price="50700"), rt)
    moved = await api.put(f"/positions/{pid}/take-profits/0", json={"price": "50800"})
    assert moved.status_code == 200, moved.text
    apply_tick(TradeTick(occurred_at=T0 + minutes(2), symbol="BTCUSDT", price="50900"), rt)

    refusal = OrderRejected(occurred_at=T0 + minutes(2), account_id="acc1", venue="PAPER",
                            order_id=f"{pid}-1T0", symbol="BTCUSDT", position_id=pid,
                            reason_code="PRICE_RELATIONSHIP",
                            message="SELL OCO take-profit 50800 is not above the last price 50900")
    async with service.uow() as uow:
        await handle_order_event(refusal, uow, rt)
        exits = [m.order for m in uow.emitted
                 if isinstance(m, SubmitOrder) and m.order.role is OrderRole.EXIT]
    async with service.uow() as uow:
        stored = await Positions(uow.session).get(pid)
    assert [o.quantity for o in exits] == [D("0.1")], (
        f"a moved take-profit refused as passed sold {[str(o.quantity) for o in exits]} as "
        f"{stored.s.pending_exit_reason}")
    assert stored.s.pending_exit_reason is ExitReason.TAKE_PROFIT
