"""Server-time sync: signed requests carry a timestamp the exchange checks against its own clock
(``recvWindow``), so we stamp them with our clock plus the measured offset."""

from __future__ import annotations

from dataclasses import dataclass


def clock_offset_ms(server_ms: int, sent_ms: int, received_ms: int) -> int:
    """Exchange clock minus ours, taking the server's stamp as made halfway through the round trip."""
    return server_ms - (sent_ms + received_ms) // 2


@dataclass(frozen=True)
class TimeSync:
    """When to (re)sync: never synced, or the last sync is older than ``interval`` seconds.
    A failed sync is retried after ``retry`` seconds rather than on every request."""

    interval: float = 300.0
    retry: float = 5.0
    offset_ms: int = 0
    synced_at: float | None = None
    failed_at: float | None = None

    def due(self, now: float) -> bool:
        if self.failed_at is not None and now - self.failed_at < self.retry:
            return False
        return self.synced_at is None or now - self.synced_at >= self.interval

    def synced(self, offset_ms: int, now: float) -> TimeSync:
        return TimeSync(self.interval, self.retry, offset_ms, now, None)

    def failed(self, now: float) -> TimeSync:
        return TimeSync(self.interval, self.retry, self.offset_ms, self.synced_at, now)

    def expired(self) -> TimeSync:
        """Forget the last sync (after -1021): the next request syncs first."""
        return TimeSync(self.interval, self.retry, self.offset_ms, None, None)
