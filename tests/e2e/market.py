"""A fixed, seeded market written as Binance-format kline CSVs (headered, one file per series):
trending and ranging regimes, so an EMA-cross trader enters, hits take-profits and stops."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
FIVE_MINUTES_MS = 300_000
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Series:
    symbol: str
    start_price: float


SERIES = (Series("BTCUSDT", 42_000.0), Series("ETHUSDT", 2_300.0))


def _price(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT, ROUND_HALF_EVEN)


def klines(series: Series, seed: int, candles: int) -> list[str]:
    """Rows ``open_time,open,high,low,close,volume``: a regime-switching random walk."""
    rng = random.Random(f"{seed}:{series.symbol}")
    rows = ["open_time,open,high,low,close,volume"]
    close, drift, left = series.start_price, 0.0, 0
    for i in range(candles):
        if left == 0:  # a new regime: trend up, trend down or range, for 8–30 candles
            drift = rng.choice((0.004, -0.004, 0.0)) * rng.uniform(0.5, 1.5)
            left = rng.randint(8, 30)
        left -= 1
        open_ = close
        close = max(open_ * (1 + drift + rng.gauss(0, 0.004)), 1.0)
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.002)))
        o, h, lo, c = (_price(v) for v in (open_, high, low, close))
        h, lo = max(h, o, c), min(lo, o, c)
        rows.append(f"{START_MS + i * FIVE_MINUTES_MS},{o},{h},{lo},{c},{1000 + i}")
    return rows


def write_dataset(directory: Path, seed: int, candles: int) -> Path:
    """One CSV per series in ``directory`` (signal's replay feed merges them by event time)."""
    directory.mkdir(parents=True, exist_ok=True)
    for series in SERIES:
        path = directory / f"{series.symbol}-5m-2024-01.csv"
        path.write_text("\n".join(klines(series, seed, candles)) + "\n")
    return directory
