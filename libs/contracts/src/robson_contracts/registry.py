"""Message registry and codec: bytes on the wire ↔ contract models."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from robson_contracts import (
    accounts,
    alerts,
    decisions,
    gate,
    market,
    orders,
    positions,
    signals,
    venues,
)
from robson_contracts import subjects as s
from robson_contracts.base import Message

TYPE_HEADER = "Robson-Type"
VERSION_HEADER = "Robson-Schema-Version"

SUBJECT_RULES: dict[type[Message], Callable[[Any], str]] = {
    market.TradeTick: lambda m: s.tick(m.symbol),
    market.Candle: lambda m: s.candle(m.symbol, m.timeframe),
    market.MarketContext: lambda m: s.market_context(m.symbol),
    market.BalanceSnapshot: lambda m: s.balance(m.account_id),
    signals.SignalDetected: lambda m: s.signal(m.account_id, m.symbol),
    decisions.TradeDecision: lambda m: s.decision(m.account_id, m.symbol),
    gate.GateDecision: lambda m: s.gate_decision(m.account_id, m.decision.symbol),
    gate.RiskLimitBreached: lambda m: s.risk_event(m.account_id),
    positions.ClosePosition: lambda m: s.position_command(m.account_id),
    positions.CloseAllPositions: lambda m: s.position_command(m.account_id),
    positions.ModifyPosition: lambda m: s.position_command(m.account_id),
    positions.PositionOpened: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionModified: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionModificationRejected: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionPartiallyClosed: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionClosed: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionEntryFailed: lambda m: s.position_event(m.account_id, m.symbol),
    positions.PositionError: lambda m: s.position_event(m.account_id, "_"),
    positions.TraderStatusChanged: lambda m: s.trader_event(m.account_id),
    orders.SubmitOrder: lambda m: s.order_command(m.venue, m.account_id, m.order.symbol),
    orders.SubmitOcoOrder: lambda m: s.order_command(m.venue, m.account_id, m.symbol),
    orders.SubmitBracketOrder: lambda m: s.order_command(m.venue, m.account_id, m.entry.symbol),
    orders.CancelOrder: lambda m: s.order_command(m.venue, m.account_id, m.symbol),
    orders.ReplaceOrder: lambda m: s.order_command(m.venue, m.account_id, m.symbol),
    orders.OrderAccepted: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderRejected: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderPartiallyFilled: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderFilled: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderCanceled: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderExpired: lambda m: s.order_event(m.account_id, m.symbol),
    orders.OrderReplaced: lambda m: s.order_event(m.account_id, m.symbol),
    accounts.AccountModeChanged: lambda m: s.account_event(m.account_id),
    accounts.ReconciliationCompleted: lambda m: s.account_event(m.account_id),
    accounts.DeadLetter: lambda m: s.dead_letter(m.service, m.consumer),
    alerts.DecisionAwaitingApproval: lambda m: s.decision_pending(m.account_id, m.symbol),
    alerts.RiskLockoutEnded: lambda m: s.risk_event(m.account_id),
    alerts.VenueStatusChanged: lambda m: s.account_event(m.account_id),
    venues.SymbolRules: lambda m: s.venue_rules(m.venue, m.symbol),
}

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.model_fields["message_type"].default: cls for cls in SUBJECT_RULES
}


class DecodeError(ValueError):
    """A message that can never be processed. ``reason_code`` goes to the dead letter."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def decode(data: bytes, expected: tuple[type[Message], ...] | None = None,
           type_hint: str | None = None) -> Message:
    """Parse and validate wire bytes. Raises DecodeError with BAD_JSON, UNKNOWN_TYPE,
    UNSUPPORTED_VERSION, INVALID_MESSAGE or UNEXPECTED_TYPE.

    ``type_hint`` (the ``Robson-Type`` header) lets a well-formed message be validated in one
    pass, without parsing it to find its type first; the hint is only a shortcut: the payload's
    own ``message_type`` and ``schema_version`` decide, and anything the shortcut does not
    accept takes the full path, which names the reason."""
    hinted = MESSAGE_TYPES.get(type_hint) if type_hint is not None else None
    if hinted is not None and (expected is None or issubclass(hinted, expected)):
        try:
            message = hinted.model_validate_json(data)
        except ValidationError:
            pass
        else:
            if "message_type" in message.model_fields_set:  # the version is the model's own check
                return message
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError("BAD_JSON", f"payload is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DecodeError("BAD_JSON", "payload is not a JSON object")
    type_name = raw.get("message_type")
    cls = MESSAGE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise DecodeError("UNKNOWN_TYPE", f"unknown message_type {type_name!r}")
    if expected is not None and not issubclass(cls, expected):
        names = ", ".join(e.__name__ for e in expected)
        raise DecodeError("UNEXPECTED_TYPE", f"{type_name} is not one of: {names}")
    version = raw.get("schema_version", 1)
    if version != cls.SCHEMA_VERSION:
        raise DecodeError(
            "UNSUPPORTED_VERSION",
            f"{type_name} schema_version {version!r} is not supported (expected {cls.SCHEMA_VERSION})",
        )
    try:
        return cls.model_validate_json(data)
    except ValidationError as exc:
        raise DecodeError("INVALID_MESSAGE", _summarize(exc)) from exc


def _summarize(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
