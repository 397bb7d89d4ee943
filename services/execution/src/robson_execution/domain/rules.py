"""Exchange rules from ``exchangeInfo``: round what may be rounded, reject what cannot be placed.

Quantities round *down* to the step (never buy more than approved); prices round to the tick
towards the safe side is not knowable in general, so they round to the nearest tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal | None = None
    status: str = "TRADING"

    @classmethod
    def from_exchange_info(cls, info: dict[str, Any]) -> SymbolRules:
        filters = {f["filterType"]: f for f in info.get("filters", [])}
        price = filters.get("PRICE_FILTER", {})
        lot = filters.get("LOT_SIZE", {})
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        max_notional = notional.get("maxNotional")
        return cls(
            symbol=info["symbol"], base_asset=info["baseAsset"], quote_asset=info["quoteAsset"],
            tick_size=Decimal(price.get("tickSize", "0")), min_price=Decimal(price.get("minPrice", "0")),
            max_price=Decimal(price.get("maxPrice", "0")), step_size=Decimal(lot.get("stepSize", "0")),
            min_qty=Decimal(lot.get("minQty", "0")), max_qty=Decimal(lot.get("maxQty", "0")),
            min_notional=Decimal(notional.get("minNotional", "0")),
            max_notional=Decimal(max_notional) if max_notional else None,
            status=info.get("status", "TRADING"),
        )


@dataclass(frozen=True)
class Rejection:
    reason_code: str
    message: str


@dataclass(frozen=True)
class Placeable:
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None


def round_quantity(qty: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return qty
    return ((qty / step).to_integral_value(ROUND_DOWN) * step).normalize()


def round_price(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return ((price / tick).to_integral_value(ROUND_HALF_UP) * tick).normalize()


def fit_order(
    rules: SymbolRules, quantity: Decimal, price: Decimal | None, stop_price: Decimal | None,
    reference_price: Decimal | None,
) -> Placeable | Rejection:
    """Round to the symbol's filters, or say why the order cannot be placed.

    ``reference_price`` (last/limit price) is used for the notional check of market orders;
    without it the notional check is skipped (Binance then checks it itself).
    """
    if rules.status != "TRADING":
        return Rejection("SYMBOL_NOT_TRADING", f"{rules.symbol} is {rules.status}")
    qty = round_quantity(quantity, rules.step_size)
    if qty <= 0 or qty < rules.min_qty:
        return Rejection("QUANTITY_BELOW_MIN",
                         f"quantity {quantity} rounds to {qty}, below minQty {rules.min_qty}")
    if rules.max_qty > 0 and qty > rules.max_qty:
        return Rejection("QUANTITY_ABOVE_MAX", f"quantity {qty} above maxQty {rules.max_qty}")
    rounded: list[Decimal | None] = []
    for p in (price, stop_price):
        if p is None:
            rounded.append(None)
            continue
        r = round_price(p, rules.tick_size)
        if r <= 0 or (rules.min_price > 0 and r < rules.min_price):
            return Rejection("PRICE_BELOW_MIN", f"price {p} below minPrice {rules.min_price}")
        if rules.max_price > 0 and r > rules.max_price:
            return Rejection("PRICE_ABOVE_MAX", f"price {p} above maxPrice {rules.max_price}")
        rounded.append(r)
    ref = rounded[0] or rounded[1] or reference_price
    if ref is not None:
        notional = qty * ref
        if notional < rules.min_notional:
            return Rejection("NOTIONAL_BELOW_MIN",
                             f"notional {notional} below minNotional {rules.min_notional}")
        if rules.max_notional is not None and notional > rules.max_notional:
            return Rejection("NOTIONAL_ABOVE_MAX",
                             f"notional {notional} above maxNotional {rules.max_notional}")
    return Placeable(qty, rounded[0], rounded[1])
