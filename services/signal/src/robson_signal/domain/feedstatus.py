"""What the feed is doing: mode, state, last event time per series, lag, problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from robson_kit.clock import Clock

MAX_ISSUES = 100


@dataclass
class FeedStatus:
    mode: str
    clock: Clock
    state: str = "idle"
    """idle | waiting | running | reconnecting | stale | unreachable | finished | failed"""
    finished: bool = False
    error: str | None = None
    candles: int = 0
    signals: int = 0
    ticks: int = 0
    skipped_rows: int = 0
    issues: list[str] = field(default_factory=list)
    last_event: dict[str, dict[str, datetime]] = field(default_factory=dict)
    last_message_at: datetime | None = None
    """Wall time of the last message from the source (live staleness)."""
    context: dict[str, Any] = field(default_factory=dict)
    """Futures market-context poller state."""

    def observed(self, symbol: str, timeframe: str, close_time: datetime) -> None:
        self.last_event.setdefault(symbol, {})[timeframe] = close_time

    def issue(self, text: str) -> None:
        self.skipped_rows += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(text)

    def lag_seconds(self) -> float | None:
        """Wall time minus the newest event time (live meaning; in replay it is the age of
        the data being replayed)."""
        latest = [t for series in self.last_event.values() for t in series.values()]
        if not latest:
            return None
        return round((self.clock.now() - max(latest)).total_seconds(), 3)

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "state": self.state,
            "finished": self.finished,
            "error": self.error,
            "lag_seconds": self.lag_seconds(),
            "candles": self.candles,
            "signals": self.signals,
            "ticks": self.ticks,
            "skipped_rows": self.skipped_rows,
            "issues": self.issues,
            "last_event_time": {
                s: {tf: t.isoformat() for tf, t in series.items()}
                for s, series in sorted(self.last_event.items())
            },
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
            "context": self.context,
        }
