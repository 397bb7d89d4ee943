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
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy, inconsistencies
from robson_notify.domain.config import NotificationsConfig
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
    notifications: NotificationsConfig | None = None
    """Applied through notify's API (robson_cli.config.notifications)."""
    market_context: dict[Symbol, Symbol] = Field(default_factory=dict)
    """Traded symbol → the USD-M perpetual its market context (funding, mark, open interest)
    comes from, e.g. ``BTCUSDT: BTCUSDT``. On a live-data feed `robson up` has signal collect
    it; the gate's funding check judges it (and says plainly when it has nothing to judge)."""
    venue: VenueConfig = VenueConfig()
    """The simulated venue's fees, slippage and fill mode (``robson backtest``; paper)."""
    backtest: BacktestConfig = BacktestConfig()
    """The period ``robson backtest`` runs (``from``, ``to``)."""

    @model_validator(mode="after")
    def _consistent(self) -> RobsonConfig:
        problems = cross_references(self.model_dump(mode="json", include={"accounts", "traders"}))
        problems = problems or self._risk_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _risk_problems(self) -> list[str]:
        """Settings that would break the gate's guarantees, all at once."""
        problems: list[str] = []
        for i, trader in enumerate(self.traders):
            account = self.account(trader.account)
            if trader.risk.risk_per_trade is not None:
                problems += [f"accounts[{account.id}].risk.{problem}"
                             for problem in inconsistencies(account.risk, trader.risk.risk_per_trade,
                                                            f"traders[{i}].risk.risk_per_trade")
                             if problem.startswith("concurrency.unit")]
            if "min_confidence" in trader.decision.model_fields_set and \
                    trader.decision.min_confidence != self.min_confidence(trader):
                problems.append(
                    f"traders[{i}].decision.min_confidence ({trader.decision.min_confidence}) "
                    f"contradicts the gate's min_confidence ({self.min_confidence(trader)}): set "
                    "it once, under risk (the account's positions.min_confidence or the trader's "
                    "risk.min_confidence); robson up gives decision the same value")
        live = set(self.live_accounts)
        problems += [f"traders[{i}].management.levels_from: fill needs a paper account "
                     f"({trader.account} is live: the live venue places a bracket's children at "
                     "the prices it was sent)"
                     for i, trader in enumerate(self.traders)
                     if trader.management.levels_from == "fill" and trader.account in live]
        traded = set(self.feed_symbols())
        problems += [f"market_context.{symbol}: no trader trades {symbol}"
                     for symbol in self.market_context if symbol not in traded]
        return problems

    def account(self, account_id: str) -> AccountConfig:
        return next(a for a in self.accounts if a.id == account_id)

    def min_confidence(self, trader: TraderConfig) -> Decimal:
        """The one confidence threshold decision and the gate share for ``trader``."""
        own = trader.risk.min_confidence
        return self.account(trader.account).risk.positions.min_confidence if own is None else own

    def decision_settings(self, trader: TraderConfig) -> TraderSettings:
        """What decision gets: the trader's settings with the gate's confidence threshold and
        the account's ``allow_short`` (a spot account's opposite signal while flat is then
        NO_TRADE, not a SHORT the gate would deny)."""
        return trader.decision.model_copy(update={
            "min_confidence": self.min_confidence(trader),
            "allow_short": self.account(trader.account).allow_short})

    def context_symbols(self) -> str:
        """``ROBSON_SIGNAL_CONTEXT_SYMBOLS``: traded=perpetual pairs."""
        return ",".join(f"{t}={p}" for t, p in self.market_context.items())

    @property
    def live_accounts(self) -> list[str]:
        return [a.id for a in self.accounts if a.mode == "live"]

    def feed_symbols(self) -> list[str]:
        return _union(t.symbols for t in self.traders)

    def feed_timeframes(self) -> list[str]:
        return _union([tf.value for tf in t.timeframes] for t in self.traders)


def cross_references(raw: Any) -> list[str]:
    """Duplicate ids and traders naming an undeclared account, read from the raw mapping so they
    are reported together with every field error, not only once those are fixed."""
    if not isinstance(raw, dict):
        return []
    accounts = [a for a in raw.get("accounts") or [] if isinstance(a, dict)] if isinstance(
        raw.get("accounts"), list) else []
    traders = raw.get("traders") if isinstance(raw.get("traders"), list) else []
    problems = _unique("accounts", [a.get("id") for a in accounts])
    problems += _unique("traders", [t.get("id") if isinstance(t, dict) else None for t in traders])
    known = {a.get("id") for a in accounts if isinstance(a.get("id"), str)}
    for i, trader in enumerate(traders):
        ref = trader.get("account") if isinstance(trader, dict) else None
        if isinstance(ref, str) and ref not in known:
            problems.append(f"traders[{i}].account: {ref!r} is not declared under accounts "
                            f"(declared: {', '.join(sorted(known)) or 'none'})")
    return problems


def _unique(section: str, ids: list[Any]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, ident in enumerate(ids):
        if isinstance(ident, str) and ident in seen:
            problems.append(f"{section}[{i}].id: {ident!r} is declared twice")
        if isinstance(ident, str):
            seen.add(ident)
    return problems


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
