"""What a backtest runs: accounts, traders (each service's own settings models), the simulated
venue's engine configuration and the period. Built from robson.yaml by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_decision.domain.settings import TraderSettings
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy
from robson_paper.domain import EngineConfig
from robson_paper.domain.rules import DEFAULT_RULES, SymbolRules
from robson_position.domain.policy import ManagementPolicy
from robson_signal.domain.bindings import TraderBinding


@dataclass(frozen=True)
class AccountSpec:
    account_id: str
    balances: dict[str, Decimal]
    allow_short: bool = False
    policy: AccountPolicy = field(default_factory=AccountPolicy)

    @property
    def quote_balance(self) -> Decimal:
        return self.balances.get("USDT", Decimal(0))


@dataclass(frozen=True)
class TraderSpec:
    binding: TraderBinding
    decision: TraderSettings = field(default_factory=TraderSettings)
    risk: TraderPolicy = field(default_factory=TraderPolicy)
    management: ManagementPolicy = field(default_factory=ManagementPolicy)

    @property
    def trader_id(self) -> str:
        return self.binding.trader_id


@dataclass(frozen=True)
class BacktestSpec:
    accounts: tuple[AccountSpec, ...]
    traders: tuple[TraderSpec, ...]
    venue: EngineConfig = field(default_factory=EngineConfig)
    symbol_rules: dict[str, SymbolRules] = field(default_factory=lambda: dict(DEFAULT_RULES))
    start: datetime | None = None
    """Inclusive: candles opening at or after it."""
    end: datetime | None = None
    """Exclusive: candles opening before it."""
    llm_model: str = "gpt-4o-mini"
    recorded_calls: tuple[dict[str, Any], ...] = ()
    """Model calls recorded by a live run (decision's ``model_calls`` rows): the LLM engine
    answers from them in replay mode and never calls a model."""

    @property
    def starting_equity(self) -> Decimal:
        return sum((a.quote_balance for a in self.accounts), Decimal(0))
