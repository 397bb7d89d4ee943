"""Engine configuration: fees, slippage, filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from robson_paper.domain.slippage import FixedBps, SlippageModel


class MarketFill(StrEnum):
    NEXT_PRICE = "next_price"
    """A market order fills at the first price after its acceptance (no look-ahead in replays)."""
    LAST_PRICE = "last_price"
    """It fills at once at the last price when that price is fresh, as a venue fills against its
    book; a stale or missing price falls back to the next one."""


@dataclass(frozen=True)
class EngineConfig:
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    slippage: SlippageModel = field(default_factory=FixedBps)
    strict_filters: bool = False
    """True: reject prices/quantities off the tick/step grid; False: round them (documented)."""
    limit_through_ticks: int = 0
    """Ticks the price must trade *through* a limit before it fills (0 = touch fills)."""
    market_buffer: Decimal = Decimal("0.02")
    """Extra funds held for market-like orders whose fill price is not known in advance."""
    volume_limited: bool = True
    """Resting limits fill at most the traded quantity of a tick that carries one."""
    default_balances: tuple[tuple[str, Decimal], ...] = (("USDT", Decimal(10000)),)
    default_allow_short: bool = False
    """Whether an account created by its first order command may sell short."""
    market_fill: MarketFill = MarketFill.NEXT_PRICE
    market_fill_max_age: timedelta = timedelta(seconds=5)
    """LAST_PRICE only: the last price is fresh when no older than this (event time)."""

    @property
    def hold_fee(self) -> Decimal:
        return max(self.maker_fee, self.taker_fee)
