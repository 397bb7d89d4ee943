"""Dead letters: a message a consumer cannot process, kept with the reason and the raw bytes
(``robson.dlq.<service>.<consumer>``, read with ``robson dlq``)."""

from __future__ import annotations

import base64
from datetime import datetime

from nats.aio.msg import Msg
from robson_contracts import DeadLetter, derive_id

LETTER_PAYLOAD_MAX = 256 * 1024
"""Payloads up to this size ride in their dead letter (replayable with ``robson dlq replay``)."""
FIRST_FAILED_HEADER = "Robson-First-Failed-At"
"""Added to a dead letter's headers: when the message first failed (its ``occurred_at`` is the
last failure)."""


def ack_field(msg: Msg, v1_index: int) -> int:
    """A number from the JetStream ack subject, without nats-py's full metadata parse (a
    dataclass and a datetime per message, on the hot path). The subject is
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>``, or the
    v2 form with ``<domain>.<account hash>`` after ``$JS.ACK``."""
    tokens = (msg.reply or "").split(".")
    try:
        if len(tokens) == 9:
            return int(tokens[v1_index])
        if len(tokens) >= 11:
            return int(tokens[v1_index + 2])
    except ValueError:
        pass
    return 0


def sequence(msg: Msg) -> int:
    return ack_field(msg, 5)


def delivered(msg: Msg) -> int:
    return ack_field(msg, 4) or 1


def dead_letter_for(msg: Msg, stream: str, consumer: str, service: str, reason_code: str, reason: str,
                    now: datetime, first_failed_at: datetime | None = None) -> DeadLetter:
    """The dead letter of ``msg`` (its id derived from the stream sequence: a retried dead-letter
    publish is deduplicated)."""
    headers = {k: str(v) for k, v in (msg.headers or {}).items()}
    headers[FIRST_FAILED_HEADER] = (first_failed_at or now).isoformat()
    payload = msg.data if len(msg.data) <= LETTER_PAYLOAD_MAX else b""
    if not payload:  # base64 adds a third: a letter must itself fit under the server's max payload
        reason = (f"{reason[:1500]} (payload of {len(msg.data)} bytes not kept in the letter; the "
                  f"original stays in stream {stream} at sequence {sequence(msg)})")
    return DeadLetter(
        message_id=derive_id("dead-letter", stream, consumer, sequence(msg)),
        occurred_at=now,
        service=service,
        consumer=consumer,
        subject=msg.subject,
        reason_code=reason_code,
        reason=reason[:2000],
        payload_b64=base64.b64encode(payload).decode(),
        headers=headers,
        delivered_count=delivered(msg),
    )
