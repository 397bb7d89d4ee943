"""Builders of contract messages for position tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from robson_contracts import (
    Fill,
    GateDecision,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRole,
    OrderSpec,
    OrderType,
    PositionError,
    Side,
    SubmitOrder,
    TakeProfitLevel,
    TradeDecision,
)
from robson_position.domain.position import Position

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
D = Decimal


def gate(side: str = "LONG", qty: str = "0.2", stop: str = "49000", tps: tuple[tuple[str, str], ...] =
         (("51000", "0.5"), ("52000", "0.5")), gate_id: str = "g1", trader: str = "t1",
         account: str = "acc1", symbol: str = "BTCUSDT", at: datetime = T0) -> GateDecision:
    decision = TradeDecision(
        occurred_at=at, account_id=account, decision_id=f"d-{gate_id}", trader_id=trader, symbol=symbol,
        decision=side, confidence="0.8", entry_price="50000", stop_loss=stop,
        take_profits=tuple(TakeProfitLevel(price=p, fraction=f) for p, f in tps), reasoning="ema cross",
    )
    return GateDecision(occurred_at=at, account_id=account, gate_decision_id=gate_id, outcome="ALLOW_ENTRY",
                        decision=decision, checks=(), approved_quantity=qty)


def filled(position_id: str, order_id: str, role: OrderRole, price: str, qty: str, side: Side,
           fee_rate: str = "0.001", at: datetime = T0, fill_id: str | None = None,
           symbol: str = "BTCUSDT", account: str = "acc1") -> OrderFilled:
    p, q = D(price), D(qty)
    return OrderFilled(
        occurred_at=at, account_id=account, venue="PAPER", order_id=order_id, symbol=symbol,
        position_id=position_id, role=role, side=side,
        fill=Fill(fill_id=fill_id or f"f-{order_id}", price=p, quantity=q, fee=p * q * D(fee_rate),
                  fee_asset="USDT", liquidity="TAKER", filled_at=at),
        cumulative_quantity=q, average_price=p, remaining_quantity=D(0),
    )


def accepted(position_id: str, order_id: str, role: OrderRole, qty: str, side: Side, otype: OrderType,
             price: str | None = None, stop: str | None = None, list_id: str | None = None,
             at: datetime = T0, account: str = "acc1") -> OrderAccepted:
    return OrderAccepted(
        occurred_at=at, account_id=account, venue="PAPER", order_id=order_id, symbol="BTCUSDT",
        position_id=position_id, role=role, list_id=list_id,
        order=OrderSpec(order_id=order_id, symbol="BTCUSDT", side=side, type=otype, quantity=qty,
                        price=price, stop_price=stop, role=role),
    )


def stop_replaced(position_id: str, order_id: str, new_order_id: str, qty: str, stop: Decimal | str,
                  minute: int) -> OrderReplaced:
    """The venue's word that the stop ``order_id`` is now ``new_order_id`` (the same id: resized),
    ``minute`` minutes after T0."""
    return OrderReplaced(
        occurred_at=T0 + minutes(minute), account_id="acc1", venue="PAPER", order_id=order_id,
        symbol="BTCUSDT", position_id=position_id, role=OrderRole.STOP_LOSS,
        order=OrderSpec(order_id=new_order_id, symbol="BTCUSDT", side=Side.SELL,
                        type=OrderType.STOP_MARKET, quantity=qty, stop_price=stop,
                        role=OrderRole.STOP_LOSS))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def refused(p: Position, order_id: str, code: str, message: str, minute: int = 2) -> OrderRejected:
    """The venue's refusal of ``order_id``, ``minute`` minutes after T0."""
    return OrderRejected(occurred_at=T0 + minutes(minute), account_id="acc1", venue=p.s.venue,
                         order_id=order_id, symbol="BTCUSDT", position_id=p.s.position_id,
                         reason_code=code, message=message)


def sent(p: Position, kind: type) -> list[Any]:
    """What the position's last change emitted of ``kind``."""
    return [m for m in p.outbox if isinstance(m, kind)]


def exit_orders(p: Position) -> list[Any]:
    """The market exits it sent (their order specs)."""
    return [m.order for m in sent(p, SubmitOrder) if m.order.role is OrderRole.EXIT]


def error_codes(p: Position) -> list[str]:
    return [m.reason_code for m in sent(p, PositionError)]
