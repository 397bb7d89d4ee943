"""What a venue trades a symbol by: its price and lot filters, told by the venue itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from robson_contracts.base import Message
from robson_contracts.types import NonNegativeDec, PositiveDec, Symbol, TradingMode

Asset = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$", examples=["BTC"])]
SymbolStatus = Annotated[str, Field(pattern=r"^[A-Z_]{1,32}$", examples=["TRADING"])]
"""Binance's symbol status (TRADING, BREAK, HALT, …); paper's symbols are always TRADING."""


class SymbolRules(Message):
    """One symbol's trading rules at one venue (paper's configured rules; Binance's
    ``exchangeInfo`` filters through execution): PRICE_FILTER's ``tick_size``, LOT_SIZE's
    ``step_size`` / ``min_qty`` / ``max_qty``, (MIN_)NOTIONAL's ``min_notional``.

    Published on ``robson.venue.rules.<venue>.<symbol>``; the newest (``occurred_at``) is the
    one in force. A quantity the venue takes is a multiple of ``step_size``, at least
    ``min_qty`` and at most ``max_qty``, and its value at the order's price at least
    ``min_notional`` (in the quote asset)."""

    message_type: Literal["SymbolRules"] = "SymbolRules"
    venue: TradingMode
    symbol: Symbol
    base_asset: Asset
    quote_asset: Asset
    tick_size: PositiveDec
    step_size: PositiveDec
    min_qty: NonNegativeDec = Decimal(0)
    max_qty: PositiveDec | None = None
    """None: no maximum told."""
    min_notional: NonNegativeDec = Decimal(0)
    status: SymbolStatus = "TRADING"

    @model_validator(mode="after")
    def _consistent_lot(self) -> SymbolRules:
        if self.max_qty is not None and self.max_qty < self.min_qty:
            raise ValueError("max_qty must not be below min_qty")
        return self

    def same_rules(self, other: SymbolRules) -> bool:
        """Whether ``other`` tells the same rules (its ids and time aside)."""
        return self.fingerprint() == other.fingerprint()

    def fingerprint(self) -> str:
        """The rules alone as text, equal for equal values however written (``0.00001`` and
        ``1E-5``): for ids derived from what is told."""
        values = (self.venue.value, self.symbol, self.base_asset, self.quote_asset,
                  self.tick_size, self.step_size, self.min_qty, self.max_qty, self.min_notional,
                  self.status)
        return "/".join(format(v.normalize(), "f") if isinstance(v, Decimal) else str(v)
                        for v in values)
