"""Our order specs as Binance request parameters."""

from __future__ import annotations

from typing import Any

from robson_contracts import OrderSpec, OrderType, Side

from robson_execution.adapters.binance import dec

_TYPES = {
    OrderType.MARKET: "MARKET", OrderType.LIMIT: "LIMIT", OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT", OrderType.TAKE_PROFIT: "TAKE_PROFIT",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT", OrderType.LIMIT_MAKER: "LIMIT_MAKER",
}
_HAS_TIF = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}


def order_params(spec: OrderSpec, cid: str) -> dict[str, Any]:
    p: dict[str, Any] = {"symbol": spec.symbol, "side": spec.side.value, "type": _TYPES[spec.type],
                         "quantity": dec(spec.quantity), "newClientOrderId": cid}
    if spec.price is not None:
        p["price"] = dec(spec.price)
    if spec.stop_price is not None:
        p["stopPrice"] = dec(spec.stop_price)
    if spec.type in _HAS_TIF:
        p["timeInForce"] = spec.time_in_force.value
    return p


def oco_params(stop: OrderSpec, stop_cid: str, take: OrderSpec, take_cid: str, list_cid: str) -> dict[str, Any]:
    """``orderList/oco``: for a SELL the stop is the *below* leg, for a BUY the *above* one."""
    stop_leg, take_leg = ("below", "above") if stop.side is Side.SELL else ("above", "below")
    p: dict[str, Any] = {"symbol": stop.symbol, "side": stop.side.value, "quantity": dec(stop.quantity),
                         "listClientOrderId": list_cid}
    p[f"{stop_leg}Type"] = "STOP_LOSS_LIMIT" if stop.price is not None else "STOP_LOSS"
    p[f"{stop_leg}StopPrice"] = dec(stop.stop_price) if stop.stop_price else None
    if stop.price is not None:
        p[f"{stop_leg}Price"] = dec(stop.price)
        p[f"{stop_leg}TimeInForce"] = "GTC"
    p[f"{stop_leg}ClientOrderId"] = stop_cid
    p[f"{take_leg}Type"] = "LIMIT_MAKER"
    p[f"{take_leg}Price"] = dec(take.price) if take.price else None
    p[f"{take_leg}ClientOrderId"] = take_cid
    return {k: v for k, v in p.items() if v is not None}
