"""Signals: what a strategy (or an external webhook) saw on a closed candle."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from robson_contracts.base import AccountMessage
from robson_contracts.types import (
    Dec,
    Fraction,
    Identifier,
    PositiveDec,
    Symbol,
    Timeframe,
    UtcDatetime,
)


class SignalDirection(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    NEUTRAL = "NEUTRAL"


class SignalOrigin(StrEnum):
    STRATEGY = "STRATEGY"
    EXTERNAL = "EXTERNAL"


class SignalDetected(AccountMessage):
    message_type: Literal["SignalDetected"] = "SignalDetected"
    signal_id: Identifier
    strategy: str
    trader_id: Identifier
    symbol: Symbol
    timeframe: Timeframe
    direction: SignalDirection
    strength: Fraction
    price: PositiveDec
    """Close of the candle that produced the signal."""
    candle_time: UtcDatetime
    """Open time of that candle."""
    features: dict[str, Dec] = {}
    origin: SignalOrigin = SignalOrigin.STRATEGY
