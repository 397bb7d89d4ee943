"""What happens after an attempt: delivered, retried later, or given up. Pure.

Routine notices are sent *at most once*: the attempt is committed before the request leaves, a
reply that never came (timeout after sending, crash) counts as a loss, never as a reason to send
again. Critical notices are sent *at least once* until delivered or 24 h old; a webhook receiver
deduplicates them by the ``X-Robson-Delivery`` key, which makes them exactly once there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from robson_notify.domain.model import DeliveryStatus, Severity


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None = None
    retry_after: float | None = None
    """Seconds the service asked us to wait (429 Retry-After)."""
    error: str = ""
    sent: bool = False
    """The request may have reached the service (a timeout after sending): outcome unknown."""
    permanent: bool = False
    """Retrying cannot help (4xx other than 408/429: a wrong URL or token)."""


@dataclass(frozen=True)
class RetryPolicy:
    routine_attempts: int = 3
    critical_max_age: timedelta = timedelta(hours=24)
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=5)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))

    def expired(self, severity: Severity, created_at: datetime, now: datetime) -> bool:
        return severity is Severity.CRITICAL and now - created_at >= self.critical_max_age


@dataclass(frozen=True)
class Next:
    status: DeliveryStatus
    at: datetime | None = None
    error: str = ""


def after_attempt(policy: RetryPolicy, severity: Severity, attempts: int, created_at: datetime,
                  now: datetime, result: SendResult) -> Next:
    if result.ok:
        return Next(DeliveryStatus.DELIVERED)
    error = result.error or f"HTTP {result.status}"
    wait = policy.backoff(attempts)
    if result.retry_after is not None:
        wait = max(wait, timedelta(seconds=min(result.retry_after, 3600)))
    if severity is Severity.CRITICAL:
        if now + wait - created_at >= policy.critical_max_age:
            return Next(DeliveryStatus.FAILED, error=f"EXPIRED after 24 h; last: {error}")
        return Next(DeliveryStatus.PENDING, now + wait, error)
    if result.sent:
        return Next(DeliveryStatus.FAILED, error=f"UNKNOWN_OUTCOME (not resent): {error}")
    if result.permanent:
        return Next(DeliveryStatus.FAILED, error=f"REFUSED: {error}")
    if attempts >= policy.routine_attempts:
        return Next(DeliveryStatus.FAILED, error=f"GAVE_UP after {attempts} tries: {error}")
    return Next(DeliveryStatus.PENDING, now + wait, error)


class TokenBucket:
    """Per-channel rate limit: ``rate_per_minute`` sustained, ``burst`` at once."""

    def __init__(self, rate_per_minute: int, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at: datetime | None = None

    def _refill(self, now: datetime) -> None:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at).total_seconds() * self.rate)
        self.at = now

    def take(self, now: datetime) -> bool:
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def available(self, now: datetime) -> int:
        self._refill(now)
        return int(self.tokens)

    def ready_at(self, now: datetime) -> datetime:
        self._refill(now)
        return now + timedelta(seconds=max(0.0, (1 - self.tokens) / self.rate))
