"""Errors handlers raise to steer the consumer loop."""

from __future__ import annotations


class PermanentError(Exception):
    """This message can never succeed: dead-letter it with ``reason_code`` and move on."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason


class ConflictError(Exception):
    """Optimistic concurrency: the aggregate changed since it was read."""


class NotYet(Exception):
    """This message depends on input another consumer has not handled yet (say, the market data
    a decision was made on): back to the stream after ``delay`` seconds, not counted as a failure
    and never dead-lettered for it by the kit. JetStream still counts each redelivery against
    the consumer's server-side limit (``max_deliver`` + margin, then ``MAX_DELIVERIES_CRASH``),
    so the handler bounds how long it keeps asking, well inside that."""

    def __init__(self, reason: str, delay: float = 0.05) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
