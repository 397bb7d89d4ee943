"""Per-trader decision settings: which engine answers, its thresholds, approval mode."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from robson_contracts.types import Fraction, PositiveDec, Timeframe


class EngineName(StrEnum):
    RULES = "rules"
    LLM = "llm"


class StopMode(StrEnum):
    ATR = "ATR"
    SWING = "SWING"
    PERCENT = "PERCENT"
    """A fixed ``stop_pct`` percent from the entry price."""


class ApprovalMode(StrEnum):
    NONE = "NONE"
    """Publish at once."""
    REQUIRED = "REQUIRED"
    """Wait as PENDING until approved or rejected over the API."""
    CANCEL_WINDOW = "CANCEL_WINDOW"
    """Wait as PENDING; proceed on its own after ``cancel_window_seconds`` unless rejected."""


MAX_HOLDING_CANDLES = 500
"""The longest time exit: a review counts the candles since the entry among those the service
keeps (``candles_kept``, at least this many)."""


class TraderSettings(BaseModel):
    """Everything is optional on the wire: an unknown trader gets these defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: EngineName = EngineName.RULES
    model: str | None = None
    """LLM model name; None uses the service's ``llm_model``."""
    min_strength: Fraction = Decimal("0.6")
    """A signal weaker than this is NO_TRADE."""
    min_confidence: Fraction = Decimal("0.6")
    """An answer less confident than this is NO_TRADE (LOW_CONFIDENCE). The same default as
    entry_gate's ``positions.min_confidence``; ``robson up`` applies the config's one value to
    both, so decision never publishes an entry the gate would deny for confidence."""
    allow_short: bool = True
    """False (a spot account, set by ``robson up`` from the account): a SHORT entry is
    NO_TRADE (SHORT_NOT_ALLOWED) — an opposite signal while flat is no trade, not a SHORT the
    gate would deny."""
    stop_mode: StopMode = StopMode.ATR
    atr_period: int = Field(14, ge=2, le=200)
    atr_k: PositiveDec = Decimal("1.5")
    swing_lookback: int = Field(10, ge=2, le=200)
    fallback_stop_pct: PositiveDec = Decimal("2")
    """Stop distance in percent when there are too few candles for ATR or a swing."""
    stop_pct: PositiveDec | None = None
    """PERCENT: the stop's distance from the entry price, in percent (2 = 2%)."""
    tp_r_multiples: tuple[PositiveDec, ...] = (Decimal("1"), Decimal("2"))
    tp_pcts: tuple[PositiveDec, ...] | None = None
    """Take-profits at these percent distances from the entry instead of ``tp_r_multiples``
    (one per ``tp_fractions``)."""
    tp_fractions: tuple[Fraction, ...] = (Decimal("0.5"), Decimal("0.5"))
    min_stop_pct: PositiveDec = Decimal("0.1")
    max_stop_pct: PositiveDec = Decimal("10")
    risk_fraction: Fraction | None = Decimal("0.01")
    breakeven_at_r: PositiveDec | None = Decimal("1")
    trail_at_r: PositiveDec | None = Decimal("2")
    trail_percent: PositiveDec = Decimal("1")
    exit_on_opposite_strength: Fraction | None = Decimal("0.8")
    """An opposite signal at least this strong closes an open position."""
    max_holding_candles: int | None = Field(None, ge=1, le=MAX_HOLDING_CANDLES)
    """A time exit: close after this many candles of the review timeframe since the entry."""
    review_timeframe: Timeframe | None = None
    """Timeframe of open-position reviews; None: the timeframe of the opening decision."""
    approval_mode: ApprovalMode = ApprovalMode.NONE
    cancel_window_seconds: Decimal = Field(Decimal("5"), ge=0, le=86400)
    llm_daily_call_budget: int = Field(500, ge=0)

    @model_validator(mode="after")
    def _take_profits_line_up(self) -> TraderSettings:
        if len(self.tp_r_multiples) != len(self.tp_fractions) and self.tp_pcts is None:
            raise ValueError("tp_r_multiples and tp_fractions must have the same length")
        if self.tp_pcts is not None and len(self.tp_pcts) != len(self.tp_fractions):
            raise ValueError("tp_pcts: one percent per tp_fractions entry "
                             f"({len(self.tp_pcts)} given, {len(self.tp_fractions)} fractions)")
        if self.stop_mode is StopMode.PERCENT and self.stop_pct is None:
            raise ValueError("stop_pct: required when stop_mode is PERCENT")
        if self.stop_pct is not None and self.stop_mode is not StopMode.PERCENT:
            raise ValueError(f"stop_pct: only used with stop_mode PERCENT (stop_mode is "
                             f"{self.stop_mode.value})")
        if sum(self.tp_fractions, Decimal(0)) > 1:
            raise ValueError("tp_fractions must sum to at most 1")
        if self.min_stop_pct >= self.max_stop_pct:
            raise ValueError("min_stop_pct must be below max_stop_pct")
        return self


DEFAULT_SETTINGS = TraderSettings()
