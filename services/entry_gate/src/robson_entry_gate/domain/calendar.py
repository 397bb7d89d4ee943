"""Trading days and months that roll at a local time in an IANA timezone, DST-safe.

A trading day is named by the local date on which it *started*: with a 17:00 Chicago reset,
Tuesday 16:59 CT belongs to Monday's day. Instants are computed from the local wall time of
each date, so the reset stays at 17:00 local across DST changes (the UTC instant shifts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class TradingCalendar:
    reset: time = time(0, 0)
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def trading_date(self, at: datetime) -> date:
        day = at.astimezone(self.zone).date()
        # Compare instants: two datetimes in the same zone compare by wall time, ignoring
        # ``fold``, so the repeated fall-back hour would fall before a reset inside it.
        return day if at.astimezone(UTC) >= self._reset_on(day) else day - timedelta(days=1)

    def day_key(self, at: datetime) -> str:
        return _day_key(self, at)

    def month_key(self, at: datetime) -> str:
        return _day_key(self, at)[:7]

    def day_start(self, at: datetime) -> datetime:
        return self._reset_on(self.trading_date(at)).astimezone(UTC)

    def next_reset(self, at: datetime) -> datetime:
        return self._reset_on(self.trading_date(at) + timedelta(days=1)).astimezone(UTC)

    def _reset_on(self, day: date) -> datetime:
        # A reset inside a spring-forward gap resolves to the instant after the gap.
        naive = datetime.combine(day, self.reset)
        aware = naive.replace(tzinfo=self.zone)
        roundtrip = aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if roundtrip != naive:  # nonexistent local time
            return aware.astimezone(UTC).astimezone(self.zone)
        return aware


@lru_cache(maxsize=8192)
def _day_key(calendar: TradingCalendar, at: datetime) -> str:
    """Every decision counts the day's entries by their day (the same instants again and
    again: the entries of the last two days), and every account event names its day."""
    return calendar.trading_date(at).isoformat()
