"""Per-symbol trading rules modelled on Binance's PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB")


class RuleViolation(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_qty: Decimal = Decimal("9000000")

    def round_price(self, price: Decimal) -> Decimal:
        """Prices snap to the nearest tick (the documented rounding rule)."""
        return (price / self.tick_size).to_integral_value(ROUND_HALF_EVEN) * self.tick_size

    def round_qty(self, qty: Decimal) -> Decimal:
        """Quantities are cut down to the step, never up: you cannot trade more than you asked."""
        return (qty / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def check_price(self, price: Decimal, field: str, strict: bool) -> Decimal:
        rounded = self.round_price(price)
        if rounded <= 0:
            raise RuleViolation("PRICE_FILTER", f"{field} {price} rounds to zero (tick {self.tick_size})")
        if strict and rounded != price:
            raise RuleViolation("PRICE_FILTER", f"{field} {price} is not a multiple of tick {self.tick_size}")
        return rounded

    def check_qty(self, qty: Decimal, strict: bool) -> Decimal:
        rounded = self.round_qty(qty)
        if strict and rounded != qty:
            raise RuleViolation("LOT_SIZE", f"quantity {qty} is not a multiple of step {self.step_size}")
        if rounded < self.min_qty:
            raise RuleViolation("LOT_SIZE", f"quantity {qty} is below the minimum {self.min_qty}")
        if rounded > self.max_qty:
            raise RuleViolation("LOT_SIZE", f"quantity {qty} is above the maximum {self.max_qty}")
        return rounded

    def check_notional(self, qty: Decimal, price: Decimal | None) -> None:
        if price is not None and qty * price < self.min_notional:
            raise RuleViolation(
                "MIN_NOTIONAL", f"notional {qty * price} is below the minimum {self.min_notional}"
            )


def split_symbol(symbol: str) -> tuple[str, str]:
    for quote in QUOTE_ASSETS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise RuleViolation("UNKNOWN_SYMBOL", f"cannot tell base and quote of {symbol}")


def rules(symbol: str, tick: str, step: str, min_notional: str = "5", min_qty: str | None = None) -> SymbolRules:
    base, quote = split_symbol(symbol)
    return SymbolRules(symbol, base, quote, Decimal(tick), Decimal(step),
                       Decimal(min_qty or step), Decimal(min_notional))


DEFAULT_RULES: dict[str, SymbolRules] = {
    r.symbol: r
    for r in (
        rules("BTCUSDT", "0.01", "0.00001"),
        rules("ETHUSDT", "0.01", "0.0001"),
        rules("BNBUSDT", "0.01", "0.001"),
        rules("SOLUSDT", "0.01", "0.001"),
        rules("XRPUSDT", "0.0001", "0.1"),
        rules("ADAUSDT", "0.0001", "0.1"),
        rules("DOGEUSDT", "0.00001", "1"),
        rules("AVAXUSDT", "0.01", "0.01"),
        rules("LINKUSDT", "0.01", "0.01"),
        rules("DOTUSDT", "0.001", "0.01"),
        rules("LTCUSDT", "0.01", "0.001"),
        rules("MATICUSDT", "0.0001", "0.1"),
        rules("ETHBTC", "0.00001", "0.0001", min_notional="0.0001"),
    )
}
