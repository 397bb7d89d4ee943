"""Account-level events and the dead-letter record."""

from __future__ import annotations

from typing import Literal

from robson_contracts.base import AccountMessage, Message, Model
from robson_contracts.types import TradingMode


class AccountModeChanged(AccountMessage):
    """An account switched between PAPER and LIVE (LIVE only after explicit opt-in)."""

    message_type: Literal["AccountModeChanged"] = "AccountModeChanged"
    mode: TradingMode
    testnet: bool = True
    reason: str = ""


class DeadLetter(Message):
    """A message a consumer could not process, kept with the reason and the raw bytes."""

    message_type: Literal["DeadLetter"] = "DeadLetter"
    service: str
    consumer: str
    subject: str
    reason_code: str
    reason: str
    payload_b64: str
    headers: dict[str, str] = {}
    delivered_count: int = 1


class ReconciliationItem(Model):
    kind: str
    """e.g. UNKNOWN_ORDER, MISSED_FILL, CANCELED_ON_VENUE, BALANCE_MISMATCH."""
    order_id: str | None = None
    action: str
    """ADOPTED, CANCELED, FLAGGED or APPLIED."""
    detail: str = ""


class ReconciliationCompleted(AccountMessage):
    """execution compared its records with the exchange; trading resumes only after this."""

    message_type: Literal["ReconciliationCompleted"] = "ReconciliationCompleted"
    ok: bool
    items: tuple[ReconciliationItem, ...] = ()
    trigger: str = "STARTUP"
