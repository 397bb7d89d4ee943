"""Slippage models: how far from the observed price a taker fill lands (always adverse)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

BPS = Decimal("0.0001")


class SlippageModel(Protocol):
    def bps(self, recent_range: Decimal | None) -> Decimal:
        """Slippage in basis points given the symbol's recent relative range ((high-low)/close)."""
        ...


@dataclass(frozen=True)
class FixedBps:
    value: Decimal = Decimal(5)

    def bps(self, recent_range: Decimal | None) -> Decimal:
        return self.value


@dataclass(frozen=True)
class VolatilityScaled:
    """``low``..``high`` bps (default 5–10, i.e. 0.05–0.1%), linear in the recent range up to
    ``full_range`` (default 2% of price), flat beyond it."""

    low: Decimal = Decimal(5)
    high: Decimal = Decimal(10)
    full_range: Decimal = Decimal("0.02")

    def bps(self, recent_range: Decimal | None) -> Decimal:
        if recent_range is None:
            return self.low
        scale = min(Decimal(1), max(Decimal(0), recent_range / self.full_range))
        return self.low + (self.high - self.low) * scale


def make_model(name: str, bps: Decimal) -> SlippageModel:
    if name == "fixed":
        return FixedBps(bps)
    if name == "volatility":
        return VolatilityScaled()
    raise ValueError(f"unknown slippage model {name!r} (fixed | volatility)")
