from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from robson_contracts import OrderSpec, SubmitOrder, TradingMode
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def submit(order_id: str = "o1", type_: str = "MARKET", qty: str = "0.01", price: str | None = None,
           side: str = "BUY", account_id: str = "acc1", **spec: Any) -> SubmitOrder:
    return SubmitOrder(occurred_at=T0, account_id=account_id, venue=TradingMode.LIVE,
                       order=OrderSpec(order_id=order_id, symbol="BTCUSDT", side=side, type=type_,
                                       quantity=Decimal(qty), price=Decimal(price) if price else None, **spec))


async def order_events(bus: Bus) -> list[Any]:
    return await read_stream(bus, s.ALL_ORDER_EVENTS)


async def account_events(bus: Bus) -> list[Any]:
    return await read_stream(bus, s.ALL_ACCOUNT_EVENTS)


def of(events: list[Any], name: str, order_id: str | None = None) -> list[Any]:
    return [e for e in events if e.message_type == name and (order_id is None or e.order_id == order_id)]
