"""One message on its way to one channel: a delivery row, or a burst collapsed into one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    kind: str
    severity: int
    account_id: str | None
    title: str
    text: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    collapsed: tuple[uuid.UUID, ...] = ()
    """The other deliveries this one stands for (a collapsed burst)."""

    def payload(self) -> dict[str, Any]:
        """The webhook body."""
        return {"delivery_id": str(self.delivery_id), "event_id": str(self.event_id),
                "kind": self.kind, "severity": {10: "info", 20: "warning", 30: "critical"}.get(
                    self.severity, "info"),
                "account_id": self.account_id, "title": self.title, "text": self.text,
                "occurred_at": self.occurred_at.isoformat(), "data": self.data,
                "collapsed": len(self.collapsed)}
