"""TradeDecision: what the decision service (AI or rules or a user) wants done."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import model_validator

from robson_contracts.base import AccountMessage, Model
from robson_contracts.types import (
    Dec,
    Fraction,
    Identifier,
    PositiveDec,
    Symbol,
    Timeframe,
)


class DecisionKind(StrEnum):
    NO_TRADE = "NO_TRADE"
    LONG = "LONG"
    SHORT = "SHORT"
    WATCH = "WATCH"
    CLOSE = "CLOSE"
    PARTIAL_TP = "PARTIAL_TP"

    @property
    def is_entry(self) -> bool:
        return self in (DecisionKind.LONG, DecisionKind.SHORT)


class EntryType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TriggeredBy(StrEnum):
    AI_ANALYSIS = "AI_ANALYSIS"
    RULE_ENGINE = "RULE_ENGINE"
    USER_MANUAL = "USER_MANUAL"


class DecisionEngine(StrEnum):
    RULES = "RULES"
    LLM = "LLM"
    MANUAL = "MANUAL"


class ModificationKind(StrEnum):
    MOVE_SL = "MOVE_SL"
    TRAIL_SL = "TRAIL_SL"
    ADD_TP = "ADD_TP"
    MODIFY_TP = "MODIFY_TP"
    CANCEL_TP = "CANCEL_TP"


class TakeProfitLevel(Model):
    price: PositiveDec
    fraction: Fraction
    """Share of the position's quantity closed at this level (0..1]."""


class Modification(Model):
    """A change to a position's protection. Values are prices unless stated."""

    kind: ModificationKind
    previous_value: Dec | None = None
    new_value: Dec | None = None
    tp_index: int | None = None
    """Which take-profit level (0-based) MODIFY_TP / CANCEL_TP act on."""
    fraction: Fraction | None = None
    """For ADD_TP: the share closed at the new level."""
    trail_percent: PositiveDec | None = None
    """For TRAIL_SL: distance from the best price, in percent."""
    reason: str = ""


class TradeDecision(AccountMessage):
    message_type: Literal["TradeDecision"] = "TradeDecision"
    decision_id: Identifier
    trader_id: Identifier
    symbol: Symbol
    timeframe: Timeframe | None = None
    decision: DecisionKind
    confidence: Fraction
    reasoning: str = ""
    entry_type: EntryType = EntryType.MARKET
    entry_price: PositiveDec | None = None
    """Limit price, or the reference price a market entry is expected near."""
    stop_loss: PositiveDec | None = None
    take_profits: tuple[TakeProfitLevel, ...] = ()
    quantity: PositiveDec | None = None
    risk_fraction: Fraction | None = None
    """Sizing hint: share of capital the trader is willing to risk."""
    close_fraction: Fraction | None = None
    """For PARTIAL_TP: the share of the position to close."""
    modifications: tuple[Modification, ...] = ()
    triggered_by: TriggeredBy = TriggeredBy.RULE_ENGINE
    engine: DecisionEngine = DecisionEngine.RULES
    model: str | None = None
    prompt_version: str | None = None
    signal_id: Identifier | None = None
    position_id: Identifier | None = None

    @model_validator(mode="after")
    def _take_profit_fractions_fit(self) -> TradeDecision:
        if sum((tp.fraction for tp in self.take_profits), Decimal(0)) > 1:
            raise ValueError("take-profit fractions must sum to at most 1")
        return self
