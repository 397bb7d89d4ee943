"""Incremental indicators, updated once per closed bar in O(window) or better.

Conventions follow TA-Lib/talipp: EMA is seeded with the SMA of its first ``period`` values;
RSI and ATR use Wilder smoothing seeded with simple means; Bollinger uses the population
standard deviation. ``value`` is None until the indicator has enough input.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


class SMA:
    def __init__(self, period: int) -> None:
        self.period = period
        self._window: deque[float] = deque(maxlen=period)
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        self._window.append(x)
        if len(self._window) == self.period:
            self.value = math.fsum(self._window) / self.period
        return self.value


class EMA:
    def __init__(self, period: int) -> None:
        self.period = period
        self.alpha = 2.0 / (period + 1)
        self._seed: list[float] = []
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is None:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
                self._seed = []
        else:
            self.value = self.value + self.alpha * (x - self.value)
        return self.value


class _Wilder:
    """Wilder's smoothing: mean of the first ``period`` inputs, then (prev*(n-1)+x)/n."""

    def __init__(self, period: int) -> None:
        self.period = period
        self._seed: list[float] = []
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is None:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
                self._seed = []
        else:
            self.value = (self.value * (self.period - 1) + x) / self.period
        return self.value


class RSI:
    def __init__(self, period: int = 14) -> None:
        self._gain = _Wilder(period)
        self._loss = _Wilder(period)
        self._prev: float | None = None
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        if self._prev is not None:
            change = close - self._prev
            gain = self._gain.update(max(change, 0.0))
            loss = self._loss.update(max(-change, 0.0))
            if gain is not None and loss is not None:
                if loss == 0:  # no losses: 100, unless no gains either (flat): neutral 50
                    self.value = 50.0 if gain == 0 else 100.0
                else:
                    self.value = 100.0 - 100.0 / (1.0 + gain / loss)
        self._prev = close
        return self.value


class ATR:
    def __init__(self, period: int = 14) -> None:
        self._avg = _Wilder(period)
        self._prev_close: float | None = None
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        if self._prev_close is None:
            tr = high - low
        else:
            tr = max(high - low, abs(high - self._prev_close), abs(low - self._prev_close))
        self._prev_close = close
        self.value = self._avg.update(tr)
        return self.value


@dataclass(frozen=True, slots=True)
class Band:
    lower: float
    middle: float
    upper: float


class Bollinger:
    def __init__(self, period: int = 20, width: float = 2.0) -> None:
        self.period = period
        self.width = width
        self._window: deque[float] = deque(maxlen=period)
        self.value: Band | None = None

    def update(self, x: float) -> Band | None:
        self._window.append(x)
        if len(self._window) == self.period:
            mean = math.fsum(self._window) / self.period
            var = math.fsum((v - mean) ** 2 for v in self._window) / self.period
            dev = self.width * math.sqrt(var)
            self.value = Band(mean - dev, mean, mean + dev)
        return self.value


@dataclass(frozen=True, slots=True)
class MacdValue:
    macd: float
    signal: float | None
    histogram: float | None


class MACD:
    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if fast >= slow:
            raise ValueError("MACD fast period must be shorter than slow period")
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self.value: MacdValue | None = None

    def update(self, x: float) -> MacdValue | None:
        fast = self._fast.update(x)
        slow = self._slow.update(x)
        if fast is None or slow is None:
            return None
        macd = fast - slow
        sig = self._signal.update(macd)
        self.value = MacdValue(macd, sig, None if sig is None else macd - sig)
        return self.value


class Donchian:
    """Highest high / lowest low of the last ``period`` bars; ``previous`` excludes the newest
    bar, which is what a breakout compares the close against."""

    def __init__(self, period: int = 20) -> None:
        self.period = period
        self._highs: deque[float] = deque(maxlen=period)
        self._lows: deque[float] = deque(maxlen=period)
        self.value: Band | None = None
        self.previous: Band | None = None

    def update(self, high: float, low: float) -> Band | None:
        self.previous = self.value
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) == self.period:
            upper, lower = max(self._highs), min(self._lows)
            self.value = Band(lower, (upper + lower) / 2, upper)
        return self.value
