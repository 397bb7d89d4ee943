"""A close that loses its race with the entry fill, an exit that ends unfilled, the ATR of a
trailing period other than the default across the gaps between positions, and breakeven behind
a trail beyond the price (pure domain)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from robson_contracts import (
    Candle,
    ExitReason,
    OrderCanceled,
    OrderExpired,
    OrderPartiallyFilled,
    OrderRejected,
    OrderRole,
    OrderType,
    PositionStatus,
    Side,
    SubmitOrder,
    TriggeredBy,
)
from robson_kit.clock import FollowingClock, WallClock
from robson_position.domain.atr import AtrBook
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import request_close
from robson_position.domain.markbook import MarkBook
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.rules import evaluate
from robson_position.domain.state import OrderKind
from robson_position.domain.validation import Request, validate
from robson_position.handlers.market import wants_candle

from .factories import T0, D, accepted, filled, gate, minutes


def _exits(p: Position) -> list[SubmitOrder]:
    return [m for m in p.outbox if isinstance(m, SubmitOrder) and m.order.role is OrderRole.EXIT]


def _live(p: Position, kind: OrderKind) -> list[str]:
    return [o.order_id for o in p.s.orders.values() if o.live and o.kind is kind]


def test_close_requested_while_entry_pending_still_closes_when_the_entry_fills_first() -> None:
    """A kill switch / close-all reaches a PENDING_ENTRY position: it cancels the bracket list.
    The venue filled the entry before the cancel arrived, so the cancel takes the stop and
    take-profits instead (the children share the list). The close must not be lost."""
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    assert request_close(p, ExitReason.KILL_SWITCH, None, gate(), T0)
    p.outbox.clear()
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    for child in (f"{pid}-0T0", f"{pid}-0S0", f"{pid}-0T1", f"{pid}-0S1"):  # the list cancel
        on_order_event(p, accepted(pid, child, OrderRole.STOP_LOSS, "0.1", Side.SELL,
                                   OrderType.STOP_MARKET, stop="49000", list_id=p.s.list_id), T0)
        on_order_event(p, OrderCanceled(occurred_at=T0, account_id="acc1", venue="PAPER",
                                        order_id=child, symbol="BTCUSDT", position_id=pid,
                                        list_id=p.s.list_id, reason="CANCELED_BY_USER",
                                        remaining_quantity=D("0.1")), T0)
    [exit_order] = _exits(p)
    assert exit_order.order.quantity == D("0.2") and exit_order.order.side is Side.SELL
    assert p.s.status is PositionStatus.CLOSING


def _closing_short() -> tuple[Position, str]:
    p = open_position(gate(side="SHORT", stop="51000", tps=()), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.SELL), T0)
    assert request_close(p, ExitReason.AI_CLOSE, None, gate(), T0)
    [exit_order] = _exits(p)
    p.outbox.clear()
    assert p.s.status is PositionStatus.CLOSING and not _live(p, OrderKind.STOP)
    return p, exit_order.order.order_id


def test_exit_that_expires_part_filled_leaves_the_rest_protected_and_closable() -> None:
    """Paper expires a market buy-back it cannot fund in full (INSUFFICIENT_BALANCE), as a venue
    expires a market order it cannot fill. What is still held must not stay CLOSING with no stop:
    the watchdog and the rules skip CLOSING, and every later close request is ignored."""
    p, exit_id = _closing_short()
    pid = p.s.position_id
    half = filled(pid, exit_id, OrderRole.EXIT, "50500", "0.1", Side.BUY, at=T0 + minutes(1))
    data = half.model_dump(exclude={"message_type"}) | {"remaining_quantity": D("0.1")}
    on_order_event(p, OrderPartiallyFilled(**data), T0 + minutes(1))
    on_order_event(p, OrderExpired(occurred_at=T0 + minutes(1), account_id="acc1", venue="PAPER",
                                   order_id=exit_id, symbol="BTCUSDT", position_id=pid,
                                   reason="INSUFFICIENT_BALANCE", remaining_quantity=D("0.1")),
                   T0 + minutes(1))
    assert p.s.remaining == D("0.1")
    stops = [o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert sum(o.quantity for o in stops) == D("0.1"), "what is still held has no stop"
    assert p.s.status is PositionStatus.PARTIALLY_CLOSED
    assert request_close(p, ExitReason.KILL_SWITCH, None, gate(), T0 + minutes(2))


def test_exit_rejected_by_the_venue_leaves_the_position_protected_and_closable() -> None:
    p, exit_id = _closing_short()
    pid = p.s.position_id
    on_order_event(p, OrderRejected(occurred_at=T0, account_id="acc1", venue="PAPER", order_id=exit_id,
                                    symbol="BTCUSDT", position_id=pid, reason_code="INSUFFICIENT_BALANCE",
                                    message="needs more USDT"), T0)
    stops = [o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert sum(o.quantity for o in stops) == D("0.2"), "the position is held with no stop"
    assert p.s.status is PositionStatus.OPEN
    assert request_close(p, ExitReason.KILL_SWITCH, None, gate(), T0 + minutes(2))


def _candle(n: int, high: str, low: str, close: str) -> Candle:
    return Candle(occurred_at=T0 + minutes(n + 1), symbol="BTCUSDT", timeframe="1m",
                  open_time=T0 + minutes(n), close_time=T0 + minutes(n + 1), open=close, high=high,
                  low=low, close=close, volume="1")


def test_atr_of_a_non_default_period_follows_the_candles_between_positions() -> None:
    """An ATR(5) trail warmed while a position was held; the position closes, the price moves on
    to another level and stays there for 100 quiet candles (true range 2) and a new position opens. Its first candle must not see
    a true range measured from the close 100 candles ago (the ATR(14) is kept meanwhile, the
    trader's ATR(5) was not): the trail would sit ~5 ATRs loose."""
    rt = SimpleNamespace(atr=AtrBook(), book=MarkBook(), market_clock=FollowingClock(WallClock()),
                         active=SimpleNamespace(any_on=lambda symbol: False))
    periods = {14, 5}
    for n in range(10):  # a position is held: handle_candle folds the trader's period too
        rt.atr.update("BTCUSDT", "1m", T0 + minutes(n + 1), D(50001), D(49999), D(50000), periods)
    assert rt.atr.value("BTCUSDT", "1m", 5) == D(2)
    for n in range(10, 110):  # no position: only wants_candle sees these (one jump, then quiet)
        assert not wants_candle(_candle(n, "55001", "54999", "55000"), rt)
    assert rt.atr.value("BTCUSDT", "1m", 14) < D(3)  # the default period followed every candle
    rt.atr.update("BTCUSDT", "1m", T0 + minutes(111), D(55001), D(54999), D(55000), periods)
    assert rt.atr.value("BTCUSDT", "1m", 5) < D(3)  # not (4 × 2 + 5001) / 5 ≈ 1002


@pytest.mark.parametrize("side", ["LONG", "SHORT"])
def test_breakeven_still_applies_when_the_tighter_trail_is_beyond_the_price(side: str) -> None:
    """Breakeven at +1% and a 1% trail. A candle spikes +2% and closes back at +0.8%: the trail
    (1% under the spike's best) is above the close, so validation refuses it (STOP_WRONG_SIDE),
    and it is refused again on every candle while the best stays there. Breakeven (valid) must
    not be lost behind it: the stop would stay at the initial stop all the way down."""
    long = side == "LONG"
    p = open_position(gate(side=side, stop="49000" if long else "51000", tps=()), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2",
                             Side.BUY if long else Side.SELL), T0)
    policy = ManagementPolicy(breakeven_trigger_pct=D("1"), trailing_pct=D("1"))
    for n in range(1, 4):  # the spike, then two quiet candles at +0.8%
        if n == 1:
            p.mark(D("50400") if long else D("49600"), high=D("51000") if long else D("50100"),
                   low=D("49900") if long else D("49000"))
        else:
            p.mark(D("50400") if long else D("49600"))
        at = T0 + minutes(5 * n)
        action = evaluate(p, policy, at)
        assert action is not None and action.modification is not None
        req = Request(action.modification, TriggeredBy.RULE_ENGINE, False, at, p.s.last_price)
        assert validate(p, req, policy) == [], f"candle {n}: the rules' stop move is refused"
    assert action.modification.new_value == D("50000")  # breakeven
