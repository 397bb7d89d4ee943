"""Position commands and events from the `position` service."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from robson_contracts.base import AccountMessage, Model
from robson_contracts.decisions import Modification, TakeProfitLevel, TriggeredBy
from robson_contracts.types import (
    Dec,
    Fraction,
    Identifier,
    NonNegativeDec,
    PositionSide,
    PositiveDec,
    Symbol,
    UtcDatetime,
)


class PositionStatus(StrEnum):
    PENDING_ENTRY = "PENDING_ENTRY"
    OPEN = "OPEN"
    PARTIALLY_CLOSED = "PARTIALLY_CLOSED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"


class ExitReason(StrEnum):
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"
    TRAILING_STOP = "TRAILING_STOP"
    AI_CLOSE = "AI_CLOSE"
    MANUAL_CLOSE = "MANUAL_CLOSE"
    KILL_SWITCH = "KILL_SWITCH"
    TIME_EXIT = "TIME_EXIT"
    RISK_LIMIT = "RISK_LIMIT"
    """Flattened by a risk limit whose action is flatten (e.g. the daily loss)."""


# --- commands ---------------------------------------------------------------------------


class ClosePosition(AccountMessage):
    message_type: Literal["ClosePosition"] = "ClosePosition"
    position_id: Identifier
    reason: ExitReason
    triggered_by: TriggeredBy
    fraction: Fraction | None = None
    """Close only this share (PARTIAL_TP); None closes everything."""


class CloseAllPositions(AccountMessage):
    """The panic button, also sent by entry_gate's kill switch."""

    message_type: Literal["CloseAllPositions"] = "CloseAllPositions"
    reason: ExitReason
    triggered_by: TriggeredBy
    note: str = ""


class ModifyPosition(AccountMessage):
    message_type: Literal["ModifyPosition"] = "ModifyPosition"
    position_id: Identifier
    modification: Modification
    triggered_by: TriggeredBy
    override_manual: bool = False
    """The AI may replace a user's manual stop only with this flag set."""


# --- events -----------------------------------------------------------------------------


class PositionEvent(AccountMessage):
    position_id: Identifier
    trader_id: Identifier
    symbol: Symbol
    side: PositionSide


class PositionOpened(PositionEvent):
    message_type: Literal["PositionOpened"] = "PositionOpened"
    quantity: PositiveDec
    """What the entry put in the account: its fills' quantity less a base-asset fee the venue
    kept (a LONG bought 0.2 BTC with a 0.0002 BTC commission holds 0.1998), as the position's
    later ``remaining_quantity`` counts it."""
    entry_price: PositiveDec
    stop_loss: PositiveDec | None = None
    take_profits: tuple[TakeProfitLevel, ...] = ()
    initial_risk: NonNegativeDec
    """(entry − stop) × quantity in the quote asset; 0 without a stop."""
    fees: NonNegativeDec
    decision_id: Identifier | None = None
    gate_decision_id: Identifier | None = None


class PositionModified(PositionEvent):
    message_type: Literal["PositionModified"] = "PositionModified"
    modification: Modification
    triggered_by: TriggeredBy
    stop_loss: PositiveDec | None = None
    take_profits: tuple[TakeProfitLevel, ...] = ()


class Violation(Model):
    name: str
    current_value: str
    required_value: str
    message: str


class PositionModificationRejected(PositionEvent):
    message_type: Literal["PositionModificationRejected"] = "PositionModificationRejected"
    modification: Modification
    triggered_by: TriggeredBy
    violations: tuple[Violation, ...]


class PositionPartiallyClosed(PositionEvent):
    message_type: Literal["PositionPartiallyClosed"] = "PositionPartiallyClosed"
    closed_quantity: PositiveDec
    exit_price: PositiveDec
    remaining_quantity: PositiveDec
    realized_pnl: Dec
    """P&L of this close, net of its fees."""
    fees: NonNegativeDec
    exit_reason: ExitReason


class PositionClosed(PositionEvent):
    message_type: Literal["PositionClosed"] = "PositionClosed"
    quantity: PositiveDec
    entry_price: PositiveDec
    exit_price: PositiveDec
    """Volume-weighted over every exit fill."""
    realized_pnl: Dec
    """Total over the position's life, net of all fees."""
    fees: NonNegativeDec
    exit_reason: ExitReason
    r_multiple: Dec | None = None
    opened_at: UtcDatetime
    holding_seconds: int


class PositionEntryFailed(PositionEvent):
    """The entry never filled: the position ends REJECTED or CANCELED."""

    message_type: Literal["PositionEntryFailed"] = "PositionEntryFailed"
    status: Literal[PositionStatus.REJECTED, PositionStatus.CANCELED]
    reason_code: str
    message: str
    gate_decision_id: Identifier | None = None


class PositionError(AccountMessage):
    message_type: Literal["PositionError"] = "PositionError"
    position_id: Identifier | None = None
    reason_code: str
    message: str


class TraderStatusChanged(AccountMessage):
    """A trader paused (no new entries; open positions still managed) or resumed."""

    message_type: Literal["TraderStatusChanged"] = "TraderStatusChanged"
    trader_id: Identifier
    paused: bool
    reason: str = ""
