"""Average true range per symbol and timeframe (Wilder's smoothing), from closed candles: the
distance an ATR trailing stop keeps. In memory; after a restart it is known again after
``period`` candles (until then an ATR trail waits — a stop only ever tightens, so waiting is safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class _Atr:
    period: int
    prev_close: Decimal | None = None
    count: int = 0
    total: Decimal = Decimal(0)
    value: Decimal | None = None
    last_close_time: object = None

    def update(self, high: Decimal, low: Decimal, close: Decimal) -> None:
        tr = high - low
        if self.prev_close is not None:
            tr = max(tr, abs(high - self.prev_close), abs(low - self.prev_close))
        self.prev_close = close
        if self.value is None:
            self.count += 1
            self.total += tr
            if self.count >= self.period:
                self.value = self.total / self.period
        else:
            self.value = (self.value * (self.period - 1) + tr) / self.period


class AtrBook:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, int], _Atr] = {}
        self._periods: dict[tuple[str, str], set[int]] = {}
        """The periods ever asked for per symbol and timeframe: each follows every candle from
        then on, held or not, so a gap between positions never folds in a stale close."""

    def update(self, symbol: str, timeframe: str, close_time: object, high: Decimal,
               low: Decimal, close: Decimal, periods: frozenset[int] | set[int]) -> None:
        """Fold one closed candle into the ATRs of ``periods`` and of every period asked for
        before on this symbol and timeframe (a candle seen again: ignored). ``timeframe``: its
        text or the ``Timeframe`` itself (a ``StrEnum``: the same key)."""
        known = self._periods.get((symbol, timeframe))
        if known is None:
            known = self._periods[(symbol, timeframe)] = set(periods)
        elif not known >= periods:
            known |= periods
        for period in known:
            key = (symbol, timeframe, period)
            atr = self._by_key.get(key)
            if atr is None:
                atr = self._by_key[key] = _Atr(period)
            if atr.last_close_time is not None and close_time <= atr.last_close_time:  # type: ignore[operator]
                continue
            atr.last_close_time = close_time
            atr.update(high, low, close)

    def value(self, symbol: str, timeframe: str, period: int) -> Decimal | None:
        atr = self._by_key.get((symbol, timeframe, period))
        return atr.value if atr is not None else None
