"""The robson.yaml schema: accounts and traders, validated with the services' own models so an
invalid file is refused before anything starts."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from robson_contracts import Timeframe
from robson_contracts.types import Identifier, NonNegativeDec
from robson_decision.domain.settings import TraderSettings
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy
from robson_position.domain.policy import ManagementPolicy
from robson_signal.domain.registry import StrategyRegistry

from robson_cli.config.backtest import BacktestConfig, VenueConfig

SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _symbol(value: str) -> str:
    if not (2 <= len(value) <= 20 and set(value) <= SYMBOL_CHARS):
        raise ValueError(f"{value!r} is not a symbol (2–20 capital letters or digits, e.g. BTCUSDT)")
    return value


def _asset(value: str) -> str:
    if not (2 <= len(value) <= 10 and set(value) <= SYMBOL_CHARS):
        raise ValueError(f"{value!r} is not an asset (capital letters or digits, e.g. USDT)")
    return value


Symbol = Annotated[str, AfterValidator(_symbol)]
Asset = Annotated[str, AfterValidator(_asset)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountConfig(Strict):
    id: Identifier
    mode: Literal["paper", "live"] = "paper"
    """Live is never implicit: `robson up` also wants `--live` to start a live account."""
    starting_balances: dict[Asset, NonNegativeDec] = Field(
        default_factory=lambda: {"USDT": Decimal(10000)}, min_length=1)
    allow_short: bool = False
    """One switch for the venue (paper lets the account sell what it does not hold) and the gate
    (which otherwise denies SHORT entries, so they never reach a venue that would refuse them)."""
    risk: AccountPolicy = AccountPolicy()
    """entry_gate's account risk policy (every field optional; defaults are the service's)."""

    @model_validator(mode="after")
    def _allow_short_once(self) -> AccountConfig:
        if "allow_short" in self.risk.model_fields_set and self.risk.allow_short != self.allow_short:
            raise ValueError("risk.allow_short contradicts allow_short: set it once, on the account")
        return self

    @property
    def quote_balance(self) -> Decimal:
        return self.starting_balances.get("USDT", Decimal(10000))

    @property
    def gate_policy(self) -> AccountPolicy:
        """The policy entry_gate gets: ``risk`` with the account's ``allow_short``."""
        return self.risk.model_copy(update={"allow_short": self.allow_short})


class TraderConfig(Strict):
    id: Identifier
    account: Identifier
    strategy: str = Field("ema_cross", min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    symbols: list[Symbol] = Field(min_length=1)
    timeframes: list[Timeframe] = Field(min_length=1)
    enabled: bool = True
    decision: TraderSettings = TraderSettings()
    """decision's settings: engine (rules|llm), thresholds, stops, approval mode."""
    risk: TraderPolicy = TraderPolicy()
    """entry_gate's per-trader overrides of the account policy."""
    management: ManagementPolicy = ManagementPolicy()
    """position's management policy (breakeven, trailing, time exit, limits)."""

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, strategy: str) -> str:
        strategy_registry().get(strategy)
        return strategy

    @field_validator("params")
    @classmethod
    def _params_fit_strategy(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        strategy = info.data.get("strategy")
        if strategy is None:
            return params
        validated = strategy_registry().params(strategy, params)
        return validated.model_dump(mode="json")


class RobsonConfig(Strict):
    accounts: list[AccountConfig] = Field(min_length=1)
    traders: list[TraderConfig] = Field(default_factory=list)
    venue: VenueConfig = VenueConfig()
    """The simulated venue's fees, slippage and fill mode (``robson backtest``; paper)."""
    backtest: BacktestConfig = BacktestConfig()
    """The period ``robson backtest`` runs (``from``, ``to``)."""

    @model_validator(mode="after")
    def _consistent(self) -> RobsonConfig:
        _unique("accounts", [a.id for a in self.accounts])
        _unique("traders", [t.id for t in self.traders])
        known = {a.id for a in self.accounts}
        for i, trader in enumerate(self.traders):
            if trader.account not in known:
                raise ValueError(f"traders[{i}].account: {trader.account!r} is not declared under "
                                 f"accounts (declared: {', '.join(sorted(known))})")
        return self

    @model_validator(mode="after")
    def _levels_from_fill_on_paper_only(self) -> RobsonConfig:
        live = set(self.live_accounts)
        for i, trader in enumerate(self.traders):
            if trader.management.levels_from == "fill" and trader.account in live:
                raise ValueError(f"traders[{i}].management.levels_from: fill needs a paper account "
                                 f"({trader.account} is live: the live venue places a bracket's "
                                 "children at the prices it was sent)")
        return self

    def account(self, account_id: str) -> AccountConfig:
        return next(a for a in self.accounts if a.id == account_id)

    @property
    def live_accounts(self) -> list[str]:
        return [a.id for a in self.accounts if a.mode == "live"]

    def feed_symbols(self) -> list[str]:
        return _union(t.symbols for t in self.traders)

    def feed_timeframes(self) -> list[str]:
        return _union([tf.value for tf in t.timeframes] for t in self.traders)


def _unique(section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise ValueError(f"{section}[{i}].id: {ident!r} is declared twice")
        seen.add(ident)


def _union(groups: Any) -> list[str]:
    out: list[str] = []
    for group in groups:
        out.extend(x for x in group if x not in out)
    return out


def strategy_registry() -> StrategyRegistry:
    """The built-in strategies plus the user plugins signal will load (same env variable)."""
    registry = StrategyRegistry()
    for path in filter(None, (p.strip() for p in os.environ.get("ROBSON_SIGNAL_STRATEGY_PLUGINS", "").split(","))):
        registry.load(path)
    return registry
