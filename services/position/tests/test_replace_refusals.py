"""A stop (or take-profit) move the venue refuses. paper refuses the replacement and keeps the
order it was to replace resting; execution (Binance) cancels the old order (its whole OCO)
first and only then places the amended one, so when Binance refuses that one (a filter
failure, insufficient balance, too many orders, ...) the old stop is already gone. The
position then held with no stop at Binance until the stop watchdog noticed (every 2 s) and
placed it again. Now the refusal is answered at once: protection is placed again for
everything held, at the levels it had before the move (``STOP_MOVE_REFUSED``).

A replacement refused because the old order is no longer open (``REPLACE_TARGET_NOT_OPEN``:
it filled, the position is exiting) places nothing: that would sell what the fill sold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import (
    CancelOrder,
    Modification,
    ModificationKind,
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
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind

from .factories import (
    T0,
    D,
    accepted,
    error_codes,
    exit_orders,
    filled,
    gate,
    minutes,
    refused,
    sent,
)

INSUFFICIENT = "Account has insufficient balance for requested action."
BINANCE_REFUSALS = [
    pytest.param("BINANCE_2010", INSUFFICIENT, id="insufficient-balance"),
    pytest.param("BINANCE_1013", "Filter failure: PERCENT_PRICE_BY_SIDE", id="price-filter"),
    pytest.param("BINANCE_1013", "Filter failure: LOT_SIZE", id="lot-size"),
    pytest.param("BINANCE_1015", "Too many new orders; current limit is 50 orders per 10 SECOND.",
                 id="too-many-orders"),
    pytest.param("NOTIONAL_BELOW_MIN", "notional 4.9 below the minimum 5", id="execution-check"),
]


def _open(venue: str = "LIVE", tps: tuple[tuple[str, str], ...] = ()) -> Position:
    """LONG 0.2 BTC filled at 50000, stop 49000; every child accepted at the venue."""
    p = open_position(gate(tps=tps), venue, T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    if not tps:
        on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                                   OrderType.STOP_MARKET, stop="49000"), T0)
    for i, (price, _) in enumerate(tps):
        for leg, role, otype in (("T", OrderRole.TAKE_PROFIT, OrderType.LIMIT_MAKER),
                                 ("S", OrderRole.STOP_LOSS, OrderType.STOP_MARKET)):
            on_order_event(p, accepted(pid, f"{pid}-0{leg}{i}", role, "0.1", Side.SELL, otype,
                                       price=price if leg == "T" else None,
                                       stop="49000" if leg == "S" else None,
                                       list_id=f"{pid}-0L{i}"), T0)
    p.mark(D("50200"))
    p.outbox.clear()
    return p


def _move(p: Position, kind: ModificationKind, value: str, tp_index: int | None = None) -> list[ReplaceOrder]:
    apply_modification(p, Modification(kind=kind, new_value=D(value), tp_index=tp_index),
                       TriggeredBy.USER_MANUAL, gate(), T0 + minutes(1))
    replaces = sent(p, ReplaceOrder)
    p.outbox.clear()
    return replaces


def _stops_sent(p: Position) -> list:  # type: ignore[type-arg]
    return [m.order for m in sent(p, SubmitOrder) if m.order.role is OrderRole.STOP_LOSS]


def _live(p: Position, kind: OrderKind) -> list:  # type: ignore[type-arg]
    return [o for o in p.s.orders.values() if o.live and o.kind is kind]


@pytest.mark.parametrize(("code", "message"), BINANCE_REFUSALS)
def test_live_stop_move_refused_after_the_old_stop_was_cancelled_places_the_stop_again(
        code: str, message: str) -> None:
    """The stop is moved from 49000 to 49500; execution cancels the 49000 stop, and Binance
    refuses the 49500 one. 0.2 BTC was held with no stop at Binance and position did nothing:
    the stop goes back at once, at 49000, for all 0.2."""
    p = _open()
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")

    on_order_event(p, refused(p, replace.new_order_id, code, message), T0 + minutes(2))

    stops = _stops_sent(p)
    assert [(o.type, o.quantity, o.stop_price) for o in stops] == [
        (OrderType.STOP_MARKET, D("0.2"), D("49000"))], f"0.2 held with no stop at Binance: {p.outbox}"
    assert p.s.stop_loss == D("49000"), "the position reports a stop no order carries"
    assert [(o.quantity, o.price) for o in _live(p, OrderKind.STOP)] == [(D("0.2"), D("49000"))]
    assert exit_orders(p) == [] and p.s.status is PositionStatus.OPEN
    assert "STOP_MOVE_REFUSED" in error_codes(p)
    [error] = [m for m in sent(p, PositionError) if m.reason_code == "STOP_MOVE_REFUSED"]
    assert code in error.message and "49500" in error.message and "49000" in error.message


def test_live_stop_move_refused_on_take_profit_ocos_places_every_oco_again_as_it_was() -> None:
    """Two take-profit OCOs (51000, 52000; stop 49000): moving the stop replaces both stop
    legs; execution cancels each OCO (its take-profit with it). Binance refuses the first new
    OCO: everything held goes back under both OCOs, as they were. The second refusal, for a
    replacement that answer already cancelled, sends nothing more."""
    p = _open(tps=(("51000", "0.5"), ("52000", "0.5")))
    first, second = _move(p, ModificationKind.MOVE_SL, "49500")

    on_order_event(p, refused(p, first.new_order_id, "BINANCE_2010", INSUFFICIENT), T0 + minutes(2))

    ocos = sent(p, SubmitOcoOrder)
    assert sorted((o.quantity, o.take_profit_price, o.stop_price) for o in ocos) == [
        (D("0.1"), D("51000"), D("49000")), (D("0.1"), D("52000"), D("49000"))], p.outbox
    pending = p.s.orders[second.new_order_id]
    cancels = {c.order_id or c.list_id for c in sent(p, CancelOrder)}
    assert not pending.live and {pending.order_id, pending.list_id} & cancels, \
        "the other replacement, on its way, is cancelled with the rest"
    assert "STOP_MOVE_REFUSED" in error_codes(p)
    held = sum((o.quantity for o in _live(p, OrderKind.STOP)), Decimal(0))
    assert held == D("0.2")

    p.outbox.clear()
    on_order_event(p, refused(p, second.new_order_id, "BINANCE_2010", INSUFFICIENT), T0 + minutes(2))
    assert sent(p, SubmitOcoOrder) == [] and _stops_sent(p) == [], f"a second round: {p.outbox}"
    assert "STOP_MOVE_REFUSED" not in error_codes(p)


def test_live_take_profit_move_refused_places_its_oco_again_at_the_old_price() -> None:
    """The first take-profit moved from 51000 to 51500: execution cancels its OCO (the stop
    leg with it) and Binance refuses the new one. Its 0.1 was neither protected nor targeted:
    the OCO goes back at 51000 / 49000."""
    p = _open(tps=(("51000", "0.5"), ("52000", "0.5")))
    [replace] = _move(p, ModificationKind.MODIFY_TP, "51500", tp_index=0)

    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_2010", INSUFFICIENT), T0 + minutes(2))

    prices = sorted((o.take_profit_price, o.stop_price) for o in sent(p, SubmitOcoOrder))
    assert (D("51000"), D("49000")) in prices, p.outbox
    assert p.s.take_profits[0].price == D("51000")
    held = sum((o.quantity for o in _live(p, OrderKind.STOP)), Decimal(0))
    assert held == D("0.2")
    assert "TAKE_PROFIT_MOVE_REFUSED" in error_codes(p)


AGAIN = [
    pytest.param("BINANCE_2010", INSUFFICIENT, None, id="refused-again-left-to-watchdog"),
    pytest.param("BINANCE_1013", "Filter failure: LOT_SIZE", "STOP_REFUSED", id="again-for-quantity"),
    pytest.param("BINANCE_2010", "Stop price would trigger immediately.", "STOP_THROUGH_MARKET",
                 id="again-for-price"),
]


@pytest.mark.parametrize(("code", "message", "answer"), AGAIN)
def test_live_stop_placed_again_after_a_refused_move_and_refused_again_does_not_loop(
        code: str, message: str, answer: str | None) -> None:
    """The stop placed again is refused too: no third stop. A refusal for its quantity or
    its price is answered as any refused stop (closed at market); any other is left to the
    watchdog (it places the stop again, then closes after its grace)."""
    p = _open()
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")
    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_2010", INSUFFICIENT), T0 + minutes(2))
    [stop] = _stops_sent(p)
    p.outbox.clear()

    on_order_event(p, refused(p, stop.order_id, code, message), T0 + minutes(3))

    assert _stops_sent(p) == [] and sent(p, SubmitOcoOrder) == [], f"a refusal loop: {p.outbox}"
    assert "STOP_MOVE_REFUSED" not in error_codes(p)
    if answer is None:
        assert exit_orders(p) == [] and p.s.status is PositionStatus.OPEN
    else:
        assert [o.quantity for o in exit_orders(p)] == [D("0.2")] and answer in error_codes(p)


def test_live_stop_move_refused_because_the_old_stop_filled_places_nothing() -> None:
    """The 49000 stop filled while position moved it: execution finds it not open any more
    (its cancel answered "unknown order", the query showed the fill) and refuses the
    replacement (``REPLACE_TARGET_NOT_OPEN``) after publishing the fill. The position is
    closed; a stop placed now would sell 0.2 BTC it no longer holds."""
    p = _open()
    pid = p.s.position_id
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")

    on_order_event(p, filled(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "49000", "0.2", Side.SELL,
                             at=T0 + minutes(2)), T0 + minutes(2))
    assert p.s.status is PositionStatus.CLOSED and len(sent(p, PositionClosed)) == 1
    p.outbox.clear()
    on_order_event(p, refused(p, replace.new_order_id, "REPLACE_TARGET_NOT_OPEN",
                               f"{pid}-0S is FILLED"), T0 + minutes(2))

    assert _stops_sent(p) == [] and exit_orders(p) == [] and sent(p, SubmitOcoOrder) == []
    assert p.s.status is PositionStatus.CLOSED and sent(p, PositionClosed) == []


def test_live_stop_move_refused_as_not_open_before_its_fill_arrives_places_nothing() -> None:
    """The refusal overtakes the news of the fill (or the old stop is triggered and filling):
    the stop is not re-placed, and the fill that follows closes the position once."""
    p = _open()
    pid = p.s.position_id
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")

    on_order_event(p, refused(p, replace.new_order_id, "REPLACE_TARGET_NOT_OPEN",
                               "the order to replace was no longer open"), T0 + minutes(2))
    assert _stops_sent(p) == [] and exit_orders(p) == [] and sent(p, SubmitOcoOrder) == []
    assert "STOP_MOVE_REFUSED" not in error_codes(p)

    on_order_event(p, filled(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "49000", "0.2", Side.SELL,
                             at=T0 + minutes(2)), T0 + minutes(2))
    assert p.s.status is PositionStatus.CLOSED and p.s.exit_quantity == D("0.2")
    assert _stops_sent(p) == [] and exit_orders(p) == []


def test_paper_stop_move_refused_keeps_the_old_stop_and_places_nothing() -> None:
    """paper keeps the stop it was to replace: nothing is placed again (it would double it)."""
    p = _open(venue="PAPER")
    pid = p.s.position_id
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")

    on_order_event(p, refused(p, replace.new_order_id, "PRICE_FILTER", "off the tick"), T0 + minutes(2))

    assert _stops_sent(p) == [] and sent(p, CancelOrder) == [] and exit_orders(p) == []
    assert [o.order_id for o in _live(p, OrderKind.STOP)] == [f"{pid}-0S"]
    assert p.s.stop_loss == D("49000") and "STOP_MOVE_REFUSED" not in error_codes(p)


@pytest.mark.parametrize("venue", ["LIVE", "PAPER"])
def test_refused_manual_stop_move_leaves_the_stop_managed_by_the_rules_as_before(venue: str) -> None:
    """A trader's move marks the stop manual (the rules then leave it alone). Refused, the move
    never happened: the stop is the rules' again, or a breakeven or trail would never move it."""
    p = _open(venue=venue)
    assert p.s.manual_stop is False
    [replace] = _move(p, ModificationKind.MOVE_SL, "49500")
    assert p.s.manual_stop is True

    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_2010", INSUFFICIENT), T0 + minutes(2))

    assert p.s.stop_loss == D("49000") and p.s.manual_stop is False


@pytest.mark.parametrize("venue", ["LIVE", "PAPER"])
def test_refused_trailing_move_does_not_count_as_trailed(venue: str) -> None:
    """The rules trail the stop (TRAIL_SL); the venue refuses it. The stop never trailed: its
    later fill is a stop-loss, not a trailing stop, and the next trail is not held back by the
    trailing interval of a move that did not happen."""
    p = _open(venue=venue)
    apply_modification(p, Modification(kind=ModificationKind.TRAIL_SL, trail_percent=D("1")),
                       TriggeredBy.RULE_ENGINE, gate(), T0 + minutes(1))
    [replace] = sent(p, ReplaceOrder)
    p.outbox.clear()
    assert p.s.last_trailed_at is not None and p.s.trail_percent == D("1")

    on_order_event(p, refused(p, replace.new_order_id, "BINANCE_1013", "Filter failure: LOT_SIZE"),
                   T0 + minutes(2))

    assert p.s.last_trailed_at is None and p.s.trail_percent is None and p.s.manual_stop is False
    assert p.s.stop_loss == D("49000")


def test_paper_take_profit_move_refused_keeps_the_old_take_profit_price() -> None:
    """paper keeps the take-profit it was to replace: the position's level is that one's price,
    not the refused one's (else its next split or report would use a price nothing rests at)."""
    p = _open(venue="PAPER", tps=(("51000", "0.5"), ("52000", "0.5")))
    replaces = _move(p, ModificationKind.MODIFY_TP, "51500", tp_index=0)
    [new_id] = [r.new_order_id for r in replaces]

    on_order_event(p, refused(p, new_id, "PRICE_FILTER", "off the tick"), T0 + minutes(2))

    assert [tp.price for tp in p.s.take_profits] == [D("51000"), D("52000")]
