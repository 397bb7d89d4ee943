"""Builders and stream readers for the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from robson_contracts import (
    Candle,
    OrderSpec,
    SubmitBracketOrder,
    SubmitOrder,
    Timeframe,
    TradeTick,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
D = Decimal


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tick(price: str, seconds: float, symbol: str = "BTCUSDT") -> TradeTick:
    return TradeTick(occurred_at=at(seconds), symbol=symbol, price=D(price))


def candle(o: str, h: str, lo: str, c: str, start: float) -> Candle:
    return Candle(occurred_at=at(start + 60), symbol="BTCUSDT", timeframe=Timeframe.M1,
                  open_time=at(start), close_time=at(start + 60), open=D(o), high=D(h),
                  low=D(lo), close=D(c), volume=D(10))


def order(order_id: str, side: str, kind: str, qty: str, seconds: float, price: str | None = None,
          stop: str | None = None, account: str = "acc1") -> SubmitOrder:
    return SubmitOrder(occurred_at=at(seconds), account_id=account, venue="PAPER",
                       order=OrderSpec(order_id=order_id, symbol="BTCUSDT", side=side, type=kind,
                                       quantity=D(qty), price=D(price) if price else None,
                                       stop_price=D(stop) if stop else None))


def bracket(seconds: float, fraction: str = "1") -> SubmitBracketOrder:
    return SubmitBracketOrder(
        occurred_at=at(seconds), account_id="acc1", venue="PAPER", position_id="pos1",
        list_id="B1", entry=OrderSpec(order_id="e1", symbol="BTCUSDT", side="BUY", type="MARKET",
                                      quantity=D("0.1")),
        stop_price=D(95), stop_order_id="e1-sl",
        take_profits=({"order_id": "e1-tp", "stop_order_id": "e1-tps", "price": D(110),
                       "fraction": D(fraction)},),
    )


async def order_events(bus: Bus) -> list[Any]:
    return await read_stream(bus, s.ALL_ORDER_EVENTS)


async def events_of(bus: Bus, type_name: str, order_id: str | None = None) -> list[Any]:
    return [m for m in await order_events(bus)
            if m.message_type == type_name and (order_id is None or m.order_id == order_id)]


def waiter(bus: Bus, type_name: str, order_id: str | None = None, n: int = 1):
    async def check() -> list[Any] | None:
        found = await events_of(bus, type_name, order_id)
        return found if len(found) >= n else None

    return check
