"""Command: bind a trader to a strategy, symbols and timeframes (PUT semantics)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from robson_contracts import Timeframe
from robson_contracts.types import Identifier, Symbol
from robson_kit.uow import UnitOfWork

from robson_signal.adapters import repository as repo
from robson_signal.domain.bindings import TraderBinding
from robson_signal.domain.engine import StrategyEngine


class BindTrader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Identifier
    strategy: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = {}
    symbols: list[Symbol] = Field(min_length=1)
    timeframes: list[Timeframe] = Field(min_length=1)
    enabled: bool = True
    webhook_secret: str | None = Field(None, min_length=8, max_length=200)
    """Enables ``POST /signals`` for this trader; only its SHA-256 is kept."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def bind_trader(
    trader_id: str, command: BindTrader, engine: StrategyEngine, uow: UnitOfWork
) -> TraderBinding:
    """Validates the strategy config first (ValueError → 422); stores, then rebinds."""
    binding = TraderBinding(
        trader_id=trader_id,
        account_id=command.account_id,
        strategy=command.strategy,
        params=command.params,
        symbols=tuple(command.symbols),
        timeframes=tuple(command.timeframes),
        enabled=command.enabled,
        webhook_secret_sha256=secret_hash(command.webhook_secret)
        if command.webhook_secret
        else None,
    )
    engine.registry.params(binding.strategy, binding.params)
    await repo.save_binding(uow.session, binding)
    uow.after_commit(lambda: engine.bind(binding))
    return binding
