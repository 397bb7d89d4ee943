"""One info line per trade event, for people reading the log (the bus carries the full event)."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from robson_contracts import Message
from robson_kit import logs

log = logs.get_logger("robson_position.trades")
EVENTS = {"PositionOpened": "position.opened", "PositionModified": "position.modified",
          "PositionPartiallyClosed": "position.partially_closed", "PositionClosed": "position.closed",
          "PositionEntryFailed": "position.entry_failed"}
FIELDS = ("position_id", "account_id", "trader_id", "symbol", "side", "quantity", "closed_quantity",
          "remaining_quantity", "entry_price", "exit_price", "stop_loss", "realized_pnl", "fees",
          "r_multiple", "exit_reason", "triggered_by", "reason_code", "holding_seconds")


def _text(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return format(value, "f") if hasattr(value, "as_tuple") else value


def log_trade_event(message: Message) -> None:
    event = EVENTS.get(getattr(message, "message_type", ""))
    if event is None or not logs.enabled_for(logging.INFO):  # a backtest logs warnings only
        return
    fields = {k: _text(getattr(message, k)) for k in FIELDS if getattr(message, k, None) is not None}
    modification = getattr(message, "modification", None)
    if modification is not None:
        fields["modification"] = _text(getattr(modification, "kind", modification))
    log.info(event, **fields)
