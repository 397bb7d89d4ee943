"""Per-symbol market state the engine keeps: last price, last event time, recent range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass
class MarketState:
    symbol: str
    last_price: Decimal | None = None
    last_time: datetime | None = None
    recent_range: Decimal | None = None
    """(high - low) / close of the latest closed candle; scales volatility slippage."""

    def seen(self, at: datetime) -> bool:
        """True when a price at ``at`` is not newer than what was already processed."""
        return self.last_time is not None and at <= self.last_time
