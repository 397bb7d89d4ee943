"""The parts of robson.yaml a backtest needs beyond accounts and traders: the simulated venue
(fees, slippage, fill mode) and the period. ``ROBSON_PAPER_*`` environment variables stay
overrides of the venue fields, as they are for the paper service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from robson_backtest.spec import AccountSpec, BacktestSpec, TraderSpec
from robson_paper.domain import EngineConfig, MarketFill
from robson_paper.domain.slippage import FixedBps, make_model
from robson_signal.domain.bindings import TraderBinding


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VenueConfig(_Strict):
    """How the simulated venue fills: paper's engine settings, in the file."""

    maker_fee: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    taker_fee: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    """Fractions of the notional (0.001 = 0.1%), charged in the quote asset."""
    slippage: Literal["none", "fixed", "volatility"] = "fixed"
    slippage_bps: Decimal | None = Field(None, ge=0, le=1000)
    """fixed: basis points against every taker fill (default 5)."""
    market_fill: MarketFill = MarketFill.NEXT_PRICE

    @model_validator(mode="after")
    def _bps_with_fixed_only(self) -> VenueConfig:
        if self.slippage_bps is not None and self.slippage != "fixed":
            raise ValueError(f"slippage_bps: only with slippage fixed (slippage is {self.slippage})")
        return self

    def engine_config(self, env: Mapping[str, str] | None = None) -> EngineConfig:
        """The file's values, each overridden by its ``ROBSON_PAPER_*`` variable when set."""
        env = os.environ if env is None else env

        def pick(name: str, value: object) -> str:
            return env.get(f"ROBSON_PAPER_{name.upper()}", str(value))

        model = pick("slippage_model", self.slippage)
        bps = Decimal(pick("slippage_bps", self.slippage_bps if self.slippage_bps is not None else 5))
        slippage = FixedBps(Decimal(0)) if model == "none" else make_model(model, bps)
        return EngineConfig(maker_fee=Decimal(pick("maker_fee", self.maker_fee)),
                            taker_fee=Decimal(pick("taker_fee", self.taker_fee)),
                            slippage=slippage,
                            market_fill=MarketFill(pick("market_fill", self.market_fill.value)))

    def paper_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The same settings as paper's environment, for `robson up`: only those ``env`` (the
        process environment by default) does not set — a set variable stays the override."""
        env = os.environ if env is None else env
        bps = self.slippage_bps if self.slippage_bps is not None else Decimal(5)
        values = {"ROBSON_PAPER_MAKER_FEE": str(self.maker_fee),
                  "ROBSON_PAPER_TAKER_FEE": str(self.taker_fee),
                  "ROBSON_PAPER_SLIPPAGE_MODEL": "fixed" if self.slippage == "none" else self.slippage,
                  "ROBSON_PAPER_SLIPPAGE_BPS": "0" if self.slippage == "none" else str(bps),
                  "ROBSON_PAPER_MARKET_FILL": self.market_fill.value}
        return {k: v for k, v in values.items() if k not in env}


class BacktestConfig(_Strict):
    """The period (``from`` inclusive, ``to`` exclusive; dates are UTC midnight)."""

    start: datetime | date | None = Field(None, alias="from")
    end: datetime | date | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> BacktestConfig:
        if self.start is not None and self.end is not None and utc(self.end) <= utc(self.start):
            raise ValueError(f"to: {self.end} must be after from ({self.start})")
        return self


def utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def backtest_spec(config: object, start: datetime | date | None = None,
                  end: datetime | date | None = None,
                  env: Mapping[str, str] | None = None) -> BacktestSpec:
    """A validated robson.yaml (``RobsonConfig``) as a backtest; ``start``/``end`` (the
    command line's --from/--to) win over the file's period."""
    accounts = tuple(
        AccountSpec(a.id, dict(a.starting_balances), a.allow_short, a.gate_policy)
        for a in config.accounts  # type: ignore[attr-defined]
    )
    traders = tuple(
        TraderSpec(
            TraderBinding(trader_id=t.id, account_id=t.account, strategy=t.strategy,
                          params=t.params, symbols=tuple(t.symbols),
                          timeframes=tuple(t.timeframes), enabled=t.enabled),
            config.decision_settings(t), t.risk, t.management)  # type: ignore[attr-defined]
        for t in config.traders  # type: ignore[attr-defined]
    )
    period: BacktestConfig = config.backtest  # type: ignore[attr-defined]
    venue: VenueConfig = config.venue  # type: ignore[attr-defined]
    first, last = start or period.start, end or period.end
    if first is not None and last is not None and utc(last) <= utc(first):
        raise ValueError(f"--to {last} must be after --from {first}")
    return BacktestSpec(accounts, traders, venue.engine_config(env),
                        start=utc(first) if first else None, end=utc(last) if last else None)
