"""Durable consumers of decision."""

from __future__ import annotations

from robson_contracts import (
    Candle,
    MarketContext,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
    PositionModificationRejected,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
    SignalDetected,
)
from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec

from robson_decision.handlers.ahead import AskAhead
from robson_decision.handlers.decisions import DecisionHandlers
from robson_decision.handlers.market import MarketContextKeeper
from robson_decision.handlers.positions import PositionProjector

POSITION_EVENTS = (
    PositionOpened,
    PositionModified,
    PositionModificationRejected,
    PositionPartiallyClosed,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
)


def consumer_specs(handlers: DecisionHandlers, ahead: AskAhead | None = None,
                   ask_concurrency: int = 1) -> list[ConsumerSpec]:
    """``ahead``: the decisions' model calls made before the batch transaction opens,
    ``ask_concurrency`` of a batch's at once."""
    return [
        ConsumerSpec(
            "decision_signals",
            s.SIGNALS,
            (s.ALL_SIGNALS,),
            handlers.on_signal,
            accepts=(SignalDetected,),
            prepare=ahead.on_signal if ahead is not None else None,
            prepare_concurrency=ask_concurrency,
        ),
        ConsumerSpec(
            "decision_candles",
            s.MARKET,
            (s.ALL_CANDLES,),
            handlers.on_candle,
            accepts=(Candle,),
            prepare=ahead.on_candle if ahead is not None else None,
            prepare_concurrency=ask_concurrency,
        ),
        ConsumerSpec(
            "decision_market_context",
            s.MARKET,
            (s.ALL_MARKET_CONTEXT,),
            MarketContextKeeper(handlers.memory, handlers.repository),
            accepts=(MarketContext,),
        ),
        ConsumerSpec(
            "decision_positions",
            s.POSITIONS,
            (s.ALL_POSITION_EVENTS,),
            PositionProjector(handlers.memory, handlers.repository),
            accepts=POSITION_EVENTS,
        ),
    ]
