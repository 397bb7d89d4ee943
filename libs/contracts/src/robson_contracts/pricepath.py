"""The intra-candle path model shared by `signal` (ticks from candles) and `paper` (fills
from candles): open → nearer extreme → farther extreme → close. When open is equally far from
high and low, the low comes first. Every caller gets the same path, so a replay and a paper
fill agree on which of stop or take-profit was hit first."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

ONE_MS = timedelta(milliseconds=1)


class PathPoint(NamedTuple):
    at: datetime
    price: Decimal


def candle_path(
    open_time: datetime, close_time: datetime, open_: Decimal, high: Decimal, low: Decimal, close: Decimal
) -> list[PathPoint]:
    """Four points inside [open_time, close_time): open, two extremes at 1/3 and 2/3, close."""
    span = close_time - open_time
    first, second = (high, low) if (high - open_) < (open_ - low) else (low, high)
    return [
        PathPoint(open_time, open_),
        PathPoint(open_time + span / 3, first),
        PathPoint(open_time + 2 * span / 3, second),
        PathPoint(close_time - ONE_MS, close),
    ]
