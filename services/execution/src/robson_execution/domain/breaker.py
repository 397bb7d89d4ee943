"""Circuit breaker per symbol: CLOSED → OPEN after repeated failures → HALF_OPEN after the
cool-down (one probe allowed) → CLOSED on success or OPEN again on failure. Pure: time is
passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class CircuitBreaker:
    symbol: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    threshold: int = 5
    cool_down: timedelta = timedelta(seconds=30)
    last_error: str = ""

    def current(self, now: datetime) -> CircuitBreaker:
        """The breaker as seen at ``now`` (OPEN turns HALF_OPEN once the cool-down passed)."""
        if self.state is BreakerState.OPEN and self.opened_at and now - self.opened_at >= self.cool_down:
            return replace(self, state=BreakerState.HALF_OPEN)
        return self

    def allows(self, now: datetime) -> bool:
        return self.current(now).state is not BreakerState.OPEN

    def record_success(self) -> CircuitBreaker:
        return replace(self, state=BreakerState.CLOSED, failures=0, opened_at=None, last_error="")

    def record_failure(self, now: datetime, error: str) -> CircuitBreaker:
        seen = self.current(now)
        failures = seen.failures + 1
        if seen.state is BreakerState.HALF_OPEN or failures >= self.threshold:
            return replace(seen, state=BreakerState.OPEN, failures=failures, opened_at=now, last_error=error)
        return replace(seen, failures=failures, last_error=error)
