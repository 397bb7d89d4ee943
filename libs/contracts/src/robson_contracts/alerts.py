"""Operational events people are told about: a decision waiting for approval, a lockout or
kill switch that ended, a venue that became unreachable or whose circuit breaker opened."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from robson_contracts.base import AccountMessage
from robson_contracts.decisions import DecisionKind
from robson_contracts.types import Fraction, Identifier, Symbol, UtcDatetime


class DecisionAwaitingApproval(AccountMessage):
    """decision held a TradeDecision for a human (approval mode PENDING or CANCEL_WINDOW)."""

    message_type: Literal["DecisionAwaitingApproval"] = "DecisionAwaitingApproval"
    decision_id: Identifier
    trader_id: Identifier
    symbol: Symbol
    decision: DecisionKind
    confidence: Fraction
    reasoning: str = ""
    expires_at: UtcDatetime | None = None
    """End of the cancel window (CANCEL_WINDOW: published then unless rejected); None waits."""


class RiskLockoutEnded(AccountMessage):
    """A lockout (or the kill switch) stopped blocking entries: expired or unlocked by an admin."""

    message_type: Literal["RiskLockoutEnded"] = "RiskLockoutEnded"
    lockout_id: str
    rule: str
    kill_switch: bool = False
    reason: str = "EXPIRED"
    """EXPIRED or ADMIN_UNLOCK."""
    by: str = ""


class VenueStatus(StrEnum):
    UNREACHABLE = "UNREACHABLE"
    REACHABLE = "REACHABLE"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    CIRCUIT_CLOSED = "CIRCUIT_CLOSED"


class VenueStatusChanged(AccountMessage):
    """execution lost or regained its venue, or a symbol's circuit breaker opened or closed."""

    message_type: Literal["VenueStatusChanged"] = "VenueStatusChanged"
    venue: str
    status: VenueStatus
    symbol: Symbol | None = None
    detail: str = ""
