"""A closed bar as bus events: path ticks (the model `paper` shares), then the candle."""

from __future__ import annotations

from robson_contracts import Candle, FeedSource, TradeTick, derive_id
from robson_contracts.pricepath import candle_path

from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import candle_message_id


def candle_event(bar: Bar, source: FeedSource) -> Candle:
    candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    return Candle(
        message_id=candle_id,
        correlation_id=candle_id,
        occurred_at=bar.close_time,
        symbol=bar.symbol,
        timeframe=bar.timeframe,
        open_time=bar.open_time,
        close_time=bar.close_time,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        closed=True,
        source=source,
    )


def path_ticks(bar: Bar, source: FeedSource) -> list[TradeTick]:
    candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    points = candle_path(bar.open_time, bar.close_time, bar.open, bar.high, bar.low, bar.close)
    return [
        TradeTick(
            message_id=derive_id("path-tick", bar.symbol, bar.timeframe.value, bar.open_ms, i),
            correlation_id=candle_id,
            occurred_at=p.at,
            symbol=bar.symbol,
            price=p.price,
            trade_id=f"path-{bar.timeframe.value}-{bar.open_ms}-{i}",
            source=source,
        )
        for i, p in enumerate(points)
    ]


def bar_from_candle(candle: Candle) -> Bar:
    from robson_signal.domain.bars import dt_to_ms

    return Bar(
        candle.symbol,
        candle.timeframe,
        dt_to_ms(candle.open_time),
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.volume,
    )
