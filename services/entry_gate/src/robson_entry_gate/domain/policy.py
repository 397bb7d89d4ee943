"""Typed risk policy: one config model per rule, per account, with per-trader overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from robson_contracts import ExitReason
from robson_contracts.types import Dec


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _share(high: str):
    def check(value: Decimal) -> Decimal:
        if not Decimal(0) < value <= Decimal(high):
            raise ValueError(f"must be greater than 0 and at most {high}")
        return value

    return AfterValidator(check)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {value!r}") from exc
    return value


Share = Annotated[Dec, _share("1")]
"""A share of capital in (0, 1]; Decimal strings, floats refused."""
SmallShare = Annotated[Dec, _share("0.5")]
RiskShare = Annotated[Dec, _share("0.1")]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]


def _local(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("a local time of the section's timezone, without an offset (e.g. 09:00)")
    return value


LocalTime = Annotated[dt.time, AfterValidator(_local)]
"""A wall-clock time read in the section's ``timezone`` (an offset such as ``09:00Z`` would be
compared with naive times and fail every check)."""


class SizingConfig(Config):
    """Rule 1: risk per trade, notional cap, free balance."""

    risk_per_trade: RiskShare = Decimal("0.01")
    max_position_notional: Share = Decimal("0.20")
    """Share of equity one position may be worth."""
    quantity_step: Dec = Decimal("0.00000001")
    default_capital: Dec | None = Decimal("10000")
    """Capital assumed before the first BalanceSnapshot (paper's default); None denies instead."""

    @field_validator("quantity_step", "default_capital")
    @classmethod
    def _positive(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than zero")
        return v


class BreachAction(StrEnum):
    """What a breached loss limit does beyond denying: ``deny_new`` only denies entries;
    ``flatten`` also closes every position (cancelling working orders) and locks the account
    until the limit's reset or an admin unlock."""

    DENY_NEW = "deny_new"
    FLATTEN = "flatten"


class CheckMode(StrEnum):
    """A market check that fails either denies the entry or only warns (recorded on the
    gate decision)."""

    DENY = "deny"
    WARN = "warn"


class MonthlyLossConfig(Config):
    """Rule 2: month P&L = realized this month + open losses (open gains never count)."""

    enabled: bool = True
    limit: SmallShare = Decimal("0.04")
    action: BreachAction = BreachAction.DENY_NEW


class ConcurrencyConfig(Config):
    """Rule 3: max concurrent = floor((budget + monthly P&L %) / unit), capped."""

    enabled: bool = True
    budget: SmallShare = Decimal("0.04")
    unit: SmallShare = Decimal("0.01")
    cap: int | None = Field(50, ge=0)


class DailyResetConfig(Config):
    time: LocalTime = dt.time(0, 0)
    timezone: TimeZoneName = "UTC"


class DailyLossConfig(Config):
    """Rule 4."""

    enabled: bool = True
    limit: SmallShare = Decimal("0.05")
    action: BreachAction = BreachAction.FLATTEN


class DrawdownConfig(Config):
    """Rule 5: the kill switch."""

    enabled: bool = True
    limit: Share = Decimal("0.20")


class CooldownScope(StrEnum):
    GLOBAL = "GLOBAL"
    SYMBOL = "SYMBOL"


LOSS_COOLDOWN_REASONS = tuple(r for r in ExitReason
                              if r not in (ExitReason.KILL_SWITCH, ExitReason.RISK_LIMIT))


class StopoutCooldownConfig(Config):
    """Rule 6: a cooldown after any losing exit whose reason is in ``reasons``."""

    enabled: bool = True
    minutes: int = Field(15, ge=0, le=10080)
    scope: CooldownScope = CooldownScope.GLOBAL
    reasons: tuple[ExitReason, ...] = LOSS_COOLDOWN_REASONS


class PositionLimitsConfig(Config):
    """Rule 7 (static counts; None: only the dynamic risk budget binds), one direction per
    trader and symbol unless ``allow_hedging``, and min confidence (decision's default too)."""

    max_per_trader: int | None = Field(None, ge=0, le=10000)
    max_per_account: int | None = Field(None, ge=0, le=100000)
    allow_hedging: bool = False
    min_confidence: Dec = Decimal("0.6")

    @field_validator("min_confidence")
    @classmethod
    def _unit(cls, v: Decimal) -> Decimal:
        if not Decimal(0) <= v <= Decimal(1):
            raise ValueError("must be between 0 and 1")
        return v


class MarketConfig(Config):
    """Rule 8: None disables a check. Funding comes from the symbol's perpetual (the
    ``MarketContext`` signal collects); its own age is judged too."""

    max_abs_funding_rate: Dec | None = Decimal("0.001")
    funding: CheckMode = CheckMode.DENY
    """An extreme funding rate denies, or only warns."""
    max_funding_age_seconds: int | None = Field(3600, ge=1)
    stale_funding: CheckMode = CheckMode.DENY
    """A funding value older than ``max_funding_age_seconds`` denies, or only warns."""
    missing_funding: CheckMode = CheckMode.WARN
    """No funding value at all (no context configured for the symbol): nothing to judge."""
    max_data_age_seconds: int | None = Field(300, ge=1)
    data_age: CheckMode = CheckMode.DENY

    @field_validator("max_abs_funding_rate")
    @classmethod
    def _non_negative(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v < 0:
            raise ValueError("must not be negative")
        return v


class TimeWindow(Config):
    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("start and end must differ (use no windows for all day)")
        return self


class SessionConfig(Config):
    """Rule 9: weekdays are ISO (1 = Monday); no windows means all day."""

    timezone: TimeZoneName = "UTC"
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    windows: tuple[TimeWindow, ...] = ()
    holidays: tuple[dt.date, ...] = ()
    blocked_symbols: tuple[str, ...] = ()

    @field_validator("weekdays")
    @classmethod
    def _iso_days(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are ISO numbers 1 (Monday) to 7 (Sunday)")
        return v


class FrequencyConfig(Config):
    """Rule 10."""

    per_minute: int | None = Field(3, ge=1)
    per_hour: int | None = Field(20, ge=1)
    per_day: int | None = Field(50, ge=1)
    cooldown_minutes: int = Field(10, ge=0, le=10080)


class QueueConfig(Config):
    enabled: bool = False
    max_age_seconds: int = Field(300, ge=1)
    max_size: int = Field(20, ge=1, le=1000)


class AccountPolicy(Config):
    allow_short: bool = True
    """False: SHORT entries are denied (a spot account cannot sell what it does not hold)."""
    sizing: SizingConfig = SizingConfig()
    monthly_loss: MonthlyLossConfig = MonthlyLossConfig()
    concurrency: ConcurrencyConfig = ConcurrencyConfig()
    daily_reset: DailyResetConfig = DailyResetConfig()
    daily_loss: DailyLossConfig = DailyLossConfig()
    drawdown: DrawdownConfig = DrawdownConfig()
    stopout_cooldown: StopoutCooldownConfig = StopoutCooldownConfig()
    positions: PositionLimitsConfig = PositionLimitsConfig()
    market: MarketConfig = MarketConfig()
    sessions: SessionConfig = SessionConfig()
    frequency: FrequencyConfig = FrequencyConfig()
    queue: QueueConfig = QueueConfig()
    pending_entry_ttl_seconds: int = Field(900, ge=10)
    """How long an ALLOW is valid (its ``expires_at``, in event time): position refuses it
    after that (``APPROVAL_EXPIRED``). Its risk counts as a pending entry until position
    reports on it, however long that takes: dropping it on a timer would free headroom for
    new approvals while position, down or behind, may still open the old one."""

    @property
    def approval_valid_for(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.pending_entry_ttl_seconds)

    @model_validator(mode="after")
    def _monthly_bound_holds(self) -> AccountPolicy:
        """The month's bound relies on both: refuse a policy that would silently break it."""
        problems = inconsistencies(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def inconsistencies(policy: AccountPolicy, risk_per_trade: Decimal | None = None,
                    who: str = "sizing.risk_per_trade") -> list[str]:
    """Why ``policy`` (or a trader's ``risk_per_trade`` under it) breaks the monthly bound."""
    c, out = policy.concurrency, []
    rpt = policy.sizing.risk_per_trade if risk_per_trade is None else risk_per_trade
    if c.enabled and c.unit < rpt:
        out.append(f"concurrency.unit ({c.unit}) must be at least {who} ({rpt}): each slot "
                   "must cover one trade's risk")
    if c.enabled and policy.monthly_loss.enabled and c.budget != policy.monthly_loss.limit:
        out.append(f"concurrency.budget ({c.budget}) must equal monthly_loss.limit "
                   f"({policy.monthly_loss.limit})")
    return out


class TraderPolicy(Config):
    """Per-trader overrides; None keeps the account's value."""

    enabled: bool = True
    max_positions: int | None = Field(None, ge=0, le=10000)
    min_confidence: Dec | None = None
    risk_per_trade: RiskShare | None = None
    blocked_symbols: tuple[str, ...] = ()

    @field_validator("min_confidence")
    @classmethod
    def _unit(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not Decimal(0) <= v <= Decimal(1):
            raise ValueError("must be between 0 and 1")
        return v


class EffectivePolicy(Config):
    """What the rules read for one (account, trader)."""

    account: AccountPolicy = AccountPolicy()
    trader: TraderPolicy = TraderPolicy()

    @property
    def risk_per_trade(self) -> Decimal:
        return self.trader.risk_per_trade or self.account.sizing.risk_per_trade

    @property
    def max_per_trader(self) -> int | None:
        t = self.trader.max_positions
        return self.account.positions.max_per_trader if t is None else t

    @property
    def min_confidence(self) -> Decimal:
        t = self.trader.min_confidence
        return self.account.positions.min_confidence if t is None else t
