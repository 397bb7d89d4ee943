"""Outbox events that cannot be published are moved aside (``outbox_dead``), never retried
forever in front of the events behind them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import nats.errors
import nats.js.errors
from robson_contracts import DeadLetter, derive_id
from sqlalchemy import text

from robson_kit import logs, metrics
from robson_kit.bus import Bus
from robson_kit.deadletter import LETTER_PAYLOAD_MAX
from robson_kit.outage import is_infrastructure_error

log = logs.get_logger(__name__)

MOVE_ASIDE = text(
    "WITH moved AS (DELETE FROM outbox WHERE id = :id RETURNING *) "
    "INSERT INTO outbox_dead (id, message_id, subject, message_type, payload, headers, created_at, "
    "reason_code, reason) SELECT id, message_id, subject, message_type, payload, headers, created_at, "
    ":code, :reason FROM moved ON CONFLICT (id) DO NOTHING"
)


def connection_trouble(exc: BaseException, others_published: bool) -> bool:
    """A publish that failed for want of a working connection, not because of the event. "No
    responders" (JetStream not answering yet, or no stream for the subject) is the event's
    fault only when other events of the same sweep went through."""
    if is_infrastructure_error(exc):
        return True
    no_stream = isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError)
    return no_stream and not others_published


async def no_stream_for(bus: Bus, subject: str, error: BaseException) -> bool:
    """After "no responders": True when JetStream answers that no stream takes ``subject``
    (the event's fault); False while JetStream itself does not answer (an outage)."""
    if not isinstance(error, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
        return False
    try:
        await bus.js.find_stream_name_by_subject(subject)
    except nats.js.errors.NotFoundError:
        return True
    except Exception:
        return False
    return False


async def report_dead(bus: Bus, service: str, row: Any, code: str, reason: str) -> None:
    metrics.OUTBOX_DEAD.labels(service, code).inc()
    log.error("outbox.event_moved_aside", message_id=str(row.message_id), subject=row.subject,
              message_type=row.message_type, reason_code=code, reason=reason[:300])
    payload = row.payload if len(row.payload) <= LETTER_PAYLOAD_MAX else b""
    letter = DeadLetter(
        message_id=derive_id("outbox-dead", service, row.message_id),
        occurred_at=datetime.now(UTC),
        service=service,
        consumer="outbox",
        subject=row.subject,
        reason_code=code,
        reason=(reason if payload else f"{reason} (payload kept in {service}.outbox_dead only)")[:2000],
        payload_b64=base64.b64encode(payload).decode(),
        headers=dict(row.headers),
    )
    try:
        await bus.publish(letter)
    except Exception as exc:  # the row in outbox_dead is the record; this is a courtesy
        log.warning("outbox.dead_letter_publish_failed", error=repr(exc))
