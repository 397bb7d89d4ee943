"""Classifying what an exchange call did: the heart of "never double an order"."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    OK = "OK"
    REJECTED = "REJECTED"
    """The venue refused it: definitely not placed."""
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN = "UNKNOWN"
    """Timeout, 5xx, connection reset: it may or may not have happened. Query before retrying."""
    RATE_LIMITED = "RATE_LIMITED"
    """429/418: not processed; wait Retry-After."""


# -1007: "Timeout waiting for response from backend server. Send status unknown".
# -1021 (timestamp outside recvWindow) was not processed, but it is a clock problem, not a bad
# order: treated as unknown (query, back off, retry) instead of rejecting the order.
_UNKNOWN_CODES = {-1007, -1006, -1001, -1021}
# -2013: order does not exist; -2011: cancel rejected (unknown order); -2018/-2019 balance.
_NOT_FOUND_CODES = {-2013, -2011}


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: int = 0
    message: str = ""
    retry_after: float = 0.0


def classify_http(status: int, code: int, message: str, retry_after: float = 0.0) -> Outcome:
    if status in (429, 418):
        return Outcome(Kind.RATE_LIMITED, code, message, retry_after)
    if status >= 500 or code in _UNKNOWN_CODES:
        return Outcome(Kind.UNKNOWN, code, message)
    if code in _NOT_FOUND_CODES:
        return Outcome(Kind.NOT_FOUND, code, message)
    return Outcome(Kind.REJECTED, code, message)
