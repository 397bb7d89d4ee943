"""Injected clocks: the domain never calls ``datetime.now()``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    """Live time, UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests (and backtests) move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class EventClock:
    """Time as the events tell it: the latest event time seen, never moving backwards.

    Used in replay so every decision depends only on the input stream.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(1970, 1, 1, tzinfo=UTC)

    def observe(self, event_time: datetime) -> None:
        if event_time > self._now:
            self._now = event_time

    def now(self) -> datetime:
        return self._now


class FollowingClock:
    """The market's time for what no event carries (an operator's close, stop move or close-all):
    the latest event time seen, moved on by the wall time since. Live that is the wall clock; in
    a replay it stays inside the replay's period, so an operator's action during a 2024 replay is
    stamped 2024 (a 2026 stamp would move every consumer's event clock years ahead and make the
    replay's prices look stale). Before any event it is the wall clock."""

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall or WallClock()
        self._event: datetime | None = None
        self._seen_at: datetime | None = None

    def observe(self, event_time: datetime) -> None:
        if self._event is None or event_time > self._event:
            self._event, self._seen_at = event_time, self._wall.now()

    @property
    def latest(self) -> datetime | None:
        """The latest event time seen, without the wall time since (None before any event):
        what a replay may decide on, as it does not depend on how fast the replay runs."""
        return self._event

    def now(self) -> datetime:
        if self._event is None or self._seen_at is None:
            return self._wall.now()
        return self._event + max(timedelta(0), self._wall.now() - self._seen_at)
