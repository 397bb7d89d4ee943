"""The context builder: everything a decision sees, from this service's own tables."""

from __future__ import annotations

from datetime import UTC, datetime

from robson_contracts import Candle, SignalDetected

from robson_decision.adapters.repository import Repository
from robson_decision.domain.context import DecisionContext, OpenPosition
from robson_decision.domain.settings import EngineName, TraderSettings

BARS = 60


def bars_needed(s: TraderSettings) -> int:
    """The rules need only the ATR/swing window; the LLM prompt shows a longer history."""
    needed = max(s.atr_period + 1, s.swing_lookback)
    return max(BARS, needed) if s.engine is EngineName.LLM else needed


async def entry_context(
    repo: Repository, signal: SignalDetected, s: TraderSettings
) -> DecisionContext:
    """Candles up to the signal's own candle only, so a late candle cannot change a replay."""
    return DecisionContext(
        account_id=signal.account_id,
        trader_id=signal.trader_id,
        symbol=signal.symbol,
        timeframe=signal.timeframe.value,
        as_of=signal.occurred_at,
        price=signal.price,
        signal=signal,
        bars=await repo.bars(
            signal.symbol, signal.timeframe.value, signal.candle_time, bars_needed(s)
        ),
        market=await repo.market(signal.symbol, signal.occurred_at),
        position=await repo.open_position(signal.trader_id, signal.symbol),
        performance=await repo.performance(signal.trader_id, signal.occurred_at),
    )


async def review_context(
    repo: Repository,
    candle: Candle,
    position: OpenPosition,
    account_id: str,
    trader_id: str,
    s: TraderSettings,
) -> DecisionContext:
    return DecisionContext(
        account_id=account_id,
        trader_id=trader_id,
        symbol=candle.symbol,
        timeframe=candle.timeframe.value,
        as_of=candle.occurred_at,
        price=candle.close,
        bars=await repo.bars(
            candle.symbol, candle.timeframe.value, candle.open_time, bars_needed(s)
        ),
        market=await repo.market(candle.symbol, candle.occurred_at),
        position=position,
        performance=await repo.performance(trader_id, candle.occurred_at),
    )


def day_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)
