"""Indicators over a short window of closed bars, in Decimal (money never goes through float)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

from robson_decision.domain.context import Bar


def true_ranges(bars: Sequence[Bar]) -> list[Decimal]:
    out: list[Decimal] = []
    for prev, bar in pairwise(bars):
        out.append(max(bar.high - bar.low, abs(bar.high - prev.close), abs(bar.low - prev.close)))
    return out


def atr(bars: Sequence[Bar], period: int) -> Decimal | None:
    """Wilder's ATR over the bars given; None until there are ``period`` + 1 bars."""
    ranges = true_ranges(bars)
    if len(ranges) < period:
        return None
    value = sum(ranges[:period], Decimal(0)) / period
    for tr in ranges[period:]:
        value = (value * (period - 1) + tr) / period
    return value


def swing_low(bars: Sequence[Bar], lookback: int) -> Decimal | None:
    window = bars[-lookback:]
    return min(b.low for b in window) if len(window) >= 2 else None


def swing_high(bars: Sequence[Bar], lookback: int) -> Decimal | None:
    window = bars[-lookback:]
    return max(b.high for b in window) if len(window) >= 2 else None


def ema(values: Sequence[Decimal], period: int) -> Decimal | None:
    if len(values) < period:
        return None
    value = sum(values[:period], Decimal(0)) / period
    alpha = Decimal(2) / (period + 1)
    for x in values[period:]:
        value += alpha * (x - value)
    return value
