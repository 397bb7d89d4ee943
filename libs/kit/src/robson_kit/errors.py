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
