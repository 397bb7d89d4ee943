"""The closed bar every strategy sees: Decimal prices for messages, floats for indicators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import Timeframe


@dataclass(frozen=True, slots=True)
class Bar:
    symbol: str
    timeframe: Timeframe
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    fhigh: float = field(init=False, repr=False, compare=False)
    flow: float = field(init=False, repr=False, compare=False)
    fclose: float = field(init=False, repr=False, compare=False)
    close_ms: int = field(init=False, repr=False, compare=False)
    _open_time: datetime | None = field(init=False, repr=False, compare=False, default=None)
    _close_time: datetime | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "fhigh", float(self.high))
        setattr_(self, "flow", float(self.low))
        setattr_(self, "fclose", float(self.close))
        setattr_(self, "close_ms", self.open_ms + _STEP_MS[self.timeframe])

    # Built on first read and kept: a bar that goes through the services is asked for its
    # times several times (its candle, its ticks' path, the watch's and the deferral's checks).
    @property
    def open_time(self) -> datetime:
        at = self._open_time
        if at is None:
            at = ms_to_dt(self.open_ms)
            object.__setattr__(self, "_open_time", at)
        return at

    @property
    def close_time(self) -> datetime:
        at = self._close_time
        if at is None:
            at = ms_to_dt(self.close_ms)
            object.__setattr__(self, "_close_time", at)
        return at

    def problem(self) -> str | None:
        """Why this bar is not a valid OHLCV bar, or None."""
        if min(self.open, self.high, self.low, self.close) <= 0:
            return "prices must be greater than zero"
        if self.volume < 0:
            return "volume must not be negative"
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            return "high/low must bound open and close"
        return None


_STEP_MS = {tf: tf.seconds * 1000 for tf in Timeframe}


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def dt_to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
