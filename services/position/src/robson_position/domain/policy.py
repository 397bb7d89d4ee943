"""Per-trader management policy and per-account settings (plain values, validated)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from robson_contracts import TradingMode


class ManagementPolicy(BaseModel):
    """Rule-based management, applied on each closed candle, plus the validation limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    breakeven_trigger_pct: Decimal | None = Field(None, gt=0, description="move stop to entry at +X%")
    breakeven_offset_pct: Decimal = Field(Decimal(0), ge=0, description="stop = entry ± this % (fees)")
    trailing_pct: Decimal | None = Field(None, gt=0, lt=100, description="trail the stop Y% from best")
    trailing_activation_pct: Decimal = Field(Decimal(0), ge=0,
                                             description="start trailing once +this % in favour")
    trailing_atr_multiple: Decimal | None = Field(
        None, gt=0, le=100, description="trail the stop this many ATRs from best (beats trailing_pct)")
    trailing_atr_period: int = Field(14, ge=1, le=500, description="ATR candles (Wilder)")
    trailing_min_step_pct: Decimal = Field(Decimal("0.05"), ge=0, lt=100,
                                           description="a trailing move smaller than this % of "
                                                       "price is not sent to the venue")
    trailing_interval_seconds: int = Field(60, ge=0,
                                           description="at most one trailing move per interval")
    time_exit_minutes: int | None = Field(None, gt=0, description="close after this holding time")
    min_stop_distance_pct: Decimal = Field(Decimal("0.1"), ge=0,
                                           description="stop at least this % away from price")
    modification_interval_seconds: int = Field(300, ge=0,
                                               description="one AI/rule modification per interval")
    fee_rate: Decimal = Field(Decimal("0.001"), ge=0, lt=1, description="per side, for TP checks")
    allow_scaling_in: bool = False
    levels_from: Literal["signal", "fill"] = "signal"
    """Where an entry's stop and take-profits are measured from: the decision's entry price
    (the signal candle's close, default) or the entry's fill (the venue moves them to the same
    distances from the fill as it releases them)."""


class AccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: TradingMode = TradingMode.PAPER


DEFAULT_POLICY = ManagementPolicy()
DEFAULT_ACCOUNT = AccountSettings()
