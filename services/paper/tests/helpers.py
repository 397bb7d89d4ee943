"""Shared builders for the pure matching-core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_contracts import OrderSpec, OrderType, Side, TimeInForce
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.events import Filled
from robson_paper.domain.slippage import FixedBps

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
D = Decimal


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def exchange(slippage: str = "0", **config: object) -> Exchange:
    ex = Exchange(EngineConfig(slippage=FixedBps(D(slippage)), **config))  # type: ignore[arg-type]
    ex.on_price("BTCUSDT", D(100), at(0))
    ex.drain()
    return ex


def spec(order_id: str, side: str, kind: str, qty: str, price: str | None = None,
         stop: str | None = None, tif: str = "GTC", symbol: str = "BTCUSDT") -> OrderSpec:
    return OrderSpec(order_id=order_id, symbol=symbol, side=Side(side), type=OrderType(kind),
                     quantity=D(qty), price=D(price) if price else None,
                     stop_price=D(stop) if stop else None, time_in_force=TimeInForce(tif))


def fills(events: list[object]) -> list[Filled]:
    return [e for e in events if isinstance(e, Filled)]


def names(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]
