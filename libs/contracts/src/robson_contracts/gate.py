"""GateDecision and risk events from entry_gate, the risk authority."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from robson_contracts.base import AccountMessage, Model
from robson_contracts.decisions import TradeDecision
from robson_contracts.types import Dec, Identifier, PositiveDec, UtcDatetime


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
