"""What notify tells people: a notice (one event, rendered) and how severe it is."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Severity(IntEnum):
    INFO = 10
    WARNING = 20
    CRITICAL = 30
    """Retried until delivered or 24 h old, across restarts; never collapsed."""

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"{name!r} is not a severity (info, warning, critical)") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    ATTEMPTING = "ATTEMPTING"
    """An attempt is committed and may be in flight; after a crash its outcome is unknown."""
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Notice:
    """One event as people read it. ``data`` carries the figures (strings) for webhooks."""

    event_id: uuid.UUID
    kind: str
    severity: Severity
    account_id: str | None
    title: str
    text: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Severity] = {
    "position.opened": Severity.INFO,
    "position.modified": Severity.INFO,
    "position.modification_rejected": Severity.WARNING,
    "position.partially_closed": Severity.INFO,
    "position.closed": Severity.INFO,
    "position.entry_failed": Severity.WARNING,
    "position.error": Severity.WARNING,
    "trader.paused": Severity.WARNING,
    "trader.resumed": Severity.INFO,
    "gate.denied": Severity.INFO,
    "risk.breached": Severity.CRITICAL,
    "risk.kill_switch": Severity.CRITICAL,
    "risk.lockout_ended": Severity.INFO,
    "risk.kill_switch_reset": Severity.WARNING,
    "decision.pending_approval": Severity.WARNING,
    "venue.down": Severity.CRITICAL,
    "venue.up": Severity.INFO,
    "venue.circuit_open": Severity.CRITICAL,
    "venue.circuit_closed": Severity.INFO,
    "reconciliation.mismatch": Severity.WARNING,
    "account.mode_changed": Severity.WARNING,
    "dlq.dead_letter": Severity.CRITICAL,
    "summary.daily": Severity.INFO,
    "test": Severity.INFO,
}
"""Every kind of notice and its severity; routes name kinds or ``prefix.*`` patterns."""


def kind_matches(pattern: str, kind: str) -> bool:
    if pattern in ("*", kind):
        return True
    return pattern.endswith(".*") and kind.startswith(pattern[:-1])


def valid_pattern(pattern: str) -> bool:
    return any(kind_matches(pattern, k) for k in KINDS)
