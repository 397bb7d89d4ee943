"""The context builder: everything a decision sees, from this service's own schema (mirrored in
memory, see ``adapters/memory.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

from robson_contracts import Candle, SignalDetected

from robson_decision.adapters.memory import Memory
from robson_decision.adapters.repository import Repository
from robson_decision.domain.context import Bar, DecisionContext, OpenPosition, Performance
from robson_decision.domain.settings import EngineName, StopMode, TraderSettings

BARS = 60


def bars_needed(s: TraderSettings) -> int:
    """The rules need only the ATR/swing window; the LLM prompt shows a longer history."""
    needed = max(s.atr_period + 1, s.swing_lookback)
    return max(BARS, needed) if s.engine is EngineName.LLM else needed


def review_bars(s: TraderSettings) -> int:
    """A review reads the stop window and, for a time exit, every candle since the entry
    (``DecisionContext.candles_in_trade`` counts them in the bars it is given)."""
    return max(bars_needed(s), s.max_holding_candles or 0)


def bars_read(s: TraderSettings) -> int:
    """How many bars an entry decision depends on, which can be fewer than ``bars_needed``
    (what a context carries and its record shows): a rules trader with a percent stop places it
    from the entry price alone (``rules.stop_for``) and reads none."""
    if s.engine is EngineName.RULES and s.stop_mode is StopMode.PERCENT:
        return 0
    return bars_needed(s)


async def entry_context(
    memory: Memory, repo: Repository, signal: SignalDetected, s: TraderSettings
) -> DecisionContext:
    """Candles up to the signal's own candle only, so a late candle cannot change a replay.
    Everything comes from the in-memory mirror: the signal path reads no table."""
    return DecisionContext(
        account_id=signal.account_id,
        trader_id=signal.trader_id,
        symbol=signal.symbol,
        timeframe=signal.timeframe.value,
        as_of=signal.occurred_at,
        price=signal.price,
        signal=signal,
        bars=memory.window(
            signal.symbol, signal.timeframe.value, signal.candle_time, bars_needed(s)
        ),
        market=memory.market_at(signal.symbol, signal.occurred_at),
        position=memory.open_position(signal.trader_id, signal.symbol),
        performance=await performance(memory, repo, signal.trader_id, signal.occurred_at),
    )


async def review_context(
    memory: Memory,
    candle: Candle,
    bars: tuple[Bar, ...],
    position: OpenPosition,
    account_id: str,
    trader_id: str,
    repo: Repository,
) -> DecisionContext:
    """``bars`` come from the table: candles of the same consumer batch are not committed yet."""
    return DecisionContext(
        account_id=account_id,
        trader_id=trader_id,
        symbol=candle.symbol,
        timeframe=candle.timeframe.value,
        as_of=candle.occurred_at,
        price=candle.close,
        bars=bars,
        market=memory.market_at(candle.symbol, candle.occurred_at),
        position=position,
        performance=await performance(memory, repo, trader_id, candle.occurred_at),
    )


async def performance(
    memory: Memory, repo: Repository, trader_id: str, until: datetime
) -> Performance:
    """From memory unless it needs closed trades older than the ones kept there."""
    known = memory.performance(trader_id, until)
    return known if known is not None else await repo.performance(trader_id, until)


def day_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)
