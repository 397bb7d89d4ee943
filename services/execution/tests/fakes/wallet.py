"""The fake exchange's account rules: in which asset a trade pays its commission, and how much
of an asset open SELL orders hold (Binance locks it: a SELL for more than is free is refused
with -2010 "Account has insufficient balance for requested action.")."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

QUOTE = "USDT"
FEE_RATE = Decimal("0.001")
EIGHT_DP = Decimal("0.00000001")

COMMISSION_POLICIES = ("QUOTE", "RECEIVED", "BNB")
"""``QUOTE``: every trade pays in USDT (the fake's default). ``RECEIVED``: Binance's default, the
asset the trade gives (the base for a BUY, the quote for a SELL). ``BNB``: "pay fees with BNB"
on, in BNB (valued at ``BNBUSDT``) while the BNB balance covers it, else as ``RECEIVED``."""


def base_of(symbol: str) -> str:
    return symbol.removesuffix(QUOTE)


def commission(policy: str, side: str, symbol: str, qty: Decimal, price: Decimal,
               balances: dict[str, Decimal], prices: dict[str, Decimal]) -> tuple[Decimal, str]:
    """The commission of one trade and its asset."""
    if policy not in COMMISSION_POLICIES:
        raise ValueError(f"unknown commission policy {policy!r}")
    value = qty * price * FEE_RATE
    if policy == "BNB" and "BNBUSDT" in prices:
        in_bnb = (value / prices["BNBUSDT"]).quantize(EIGHT_DP)
        if balances.get("BNB", Decimal(0)) >= in_bnb:
            return in_bnb, "BNB"
    if policy != "QUOTE" and side == "BUY":
        return (qty * FEE_RATE).quantize(EIGHT_DP), base_of(symbol)
    return value.quantize(EIGHT_DP), QUOTE


def locked(orders: Iterable[Any], asset: str) -> Decimal:
    """What open SELL orders of ``asset`` may still sell; an OCO's two legs lock it once."""
    held: dict[object, Decimal] = {}
    for o in orders:
        if o.side == "SELL" and base_of(o.symbol) == asset and o.status in ("NEW", "PARTIALLY_FILLED"):
            key = ("list", o.list_id) if o.list_id >= 0 else ("order", o.order_id)
            held[key] = max(held.get(key, Decimal(0)), o.quantity - o.executed)
    return sum(held.values(), Decimal(0))
