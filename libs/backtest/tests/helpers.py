"""Specs and seeded candles for the backtest's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from robson_backtest.data import synthetic_bars
from robson_backtest.spec import AccountSpec, BacktestSpec, TraderSpec
from robson_contracts import Timeframe
from robson_decision.domain.settings import StopMode, TraderSettings
from robson_entry_gate.domain.policy import AccountPolicy
from robson_paper.domain import EngineConfig
from robson_paper.domain.slippage import FixedBps

START = datetime(2024, 1, 1, tzinfo=UTC)
DECISION = TraderSettings(min_strength=Decimal(0), min_confidence=Decimal(0),
                          stop_mode=StopMode.PERCENT, stop_pct=Decimal(1),
                          tp_pcts=(Decimal(2),), tp_fractions=(Decimal(1),),
                          exit_on_opposite_strength=Decimal(0), breakeven_at_r=None,
                          trail_at_r=None)
OPEN_POLICY = {
    "positions": {"max_per_trader": 1, "max_per_account": 10, "min_confidence": 0},
    "frequency": {"per_minute": None, "per_hour": None, "per_day": None},
    "market": {"max_abs_funding_rate": None, "max_data_age_seconds": None},
    "stopout_cooldown": {"minutes": 0}, "concurrency": {"enabled": False},
}


def policy(**overrides: object) -> AccountPolicy:
    doc = {**OPEN_POLICY, **overrides}
    return AccountPolicy.model_validate(doc)


def trader(trader_id: str, symbols: tuple[str, ...], account: str = "main",
           fast: int = 5, slow: int = 13) -> TraderSpec:
    from robson_signal.domain.bindings import TraderBinding

    binding = TraderBinding(trader_id=trader_id, account_id=account, strategy="ema_cross",
                            params={"fast": fast, "slow": slow}, symbols=symbols,
                            timeframes=(Timeframe.M5,))
    return TraderSpec(binding, DECISION)


def spec(traders: tuple[TraderSpec, ...], account_policy: AccountPolicy | None = None) -> BacktestSpec:
    return BacktestSpec(
        accounts=(AccountSpec("main", {"USDT": Decimal(10000)}, False, account_policy or policy()),),
        traders=traders,
        venue=EngineConfig(slippage=FixedBps(Decimal(0))),
    )


def candles(symbols: list[str], count: int = 1500, seed: int = 3) -> list:  # type: ignore[type-arg]
    return synthetic_bars(seed, symbols, Timeframe.M5, START, count)
