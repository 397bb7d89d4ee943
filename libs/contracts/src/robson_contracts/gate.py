"""GateDecision and risk events from entry_gate, the risk authority."""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from robson_contracts.base import AccountMessage, Model
from robson_contracts.decisions import TradeDecision
from robson_contracts.types import Dec, Identifier, PositiveDec, UtcDatetime

if TYPE_CHECKING:
    from robson_contracts.accounts import DeadLetter


class GateOutcome(StrEnum):
    ALLOW_ENTRY = "ALLOW_ENTRY"
    DENY_ENTRY = "DENY_ENTRY"


class CheckResult(Model):
    """One rule's verdict. A failed check always carries a reason code and a message."""

    rule: str
    passed: bool
    reason_code: str | None = None
    message: str = ""
    details: dict[str, str] = {}
    warning: bool = False
    """A passed check that found something worth telling (e.g. a market check set to warn):
    it carries its reason code and does not deny."""


class GateDecision(AccountMessage):
    message_type: Literal["GateDecision"] = "GateDecision"
    gate_decision_id: Identifier
    outcome: GateOutcome
    decision: TradeDecision
    """The TradeDecision judged, embedded so consumers need nothing else."""
    checks: tuple[CheckResult, ...]
    reason_codes: tuple[str, ...] = ()
    approved_quantity: PositiveDec | None = None
    inputs: dict[str, str] = {}
    """The projection values the rules read (equity, monthly P&L, open count…), as strings."""
    warnings: tuple[str, ...] = ()
    """Reason codes of checks that warned without denying."""
    expires_at: UtcDatetime | None = None
    """An approval's deadline in event time: position refuses to act on it later
    (``PositionEntryFailed`` with ``APPROVAL_EXPIRED``), as it was sized on an older market.
    The gate counts the approval's risk until position reports on it, whatever its age."""


def entry_approval_in(letter: DeadLetter) -> GateDecision | None:
    """The entry approval a dead letter carries, or None (another message, or unreadable).
    entry_gate releases the pending risk of such an approval when position dead-letters it,
    and ``robson dlq replay`` refuses to send one again: both judge a letter by this."""
    try:
        message = GateDecision.model_validate_json(base64.b64decode(letter.payload_b64, validate=True))
    except (binascii.Error, ValidationError, ValueError):
        return None
    return message if message.outcome is GateOutcome.ALLOW_ENTRY else None


class RiskAction(StrEnum):
    DENY = "DENY"
    LOCK_ACCOUNT = "LOCK_ACCOUNT"
    CLOSE_ALL = "CLOSE_ALL"
    PAUSE = "PAUSE"


class RiskLimitBreached(AccountMessage):
    message_type: Literal["RiskLimitBreached"] = "RiskLimitBreached"
    rule: str
    reason_code: str
    message: str
    value: Dec
    limit: Dec
    action: RiskAction
    trader_id: Identifier | None = None
    until: UtcDatetime | None = None
    """When the lockout this breach set ends (None: until an admin unlocks, or no lockout)."""
    figures: dict[str, str] = {}
    """The figures the limit was judged on (equity, day/month P&L, drawdown…), as strings."""
