"""A closed bar as bus events: path ticks (the model `paper` shares), then the candle."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from robson_contracts import Candle, FeedSource, TradeTick, derive_id
from robson_contracts.pricepath import candle_path

from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import candle_message_id

ZERO = Decimal(0)
_UNSET = {"causation_id": None, "schema_version": 1, "tenant_id": "default",
          "message_type": "Candle"}
"""A Candle's defaults, which ``model_construct`` leaves to its caller."""


def _candle_fields(bar: Bar, source: FeedSource) -> dict[str, object]:
    candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    close_time = bar.close_time
    return {"message_id": candle_id, "correlation_id": candle_id, "occurred_at": close_time,
            "symbol": bar.symbol, "timeframe": bar.timeframe, "open_time": bar.open_time,
            "close_time": close_time, "open": bar.open, "high": bar.high, "low": bar.low,
            "close": bar.close, "volume": bar.volume, "closed": True, "source": source}


def candle_event(bar: Bar, source: FeedSource) -> Candle:
    return Candle(**_candle_fields(bar, source))  # type: ignore[arg-type]


def checked_bar_candle(bar: Bar, source: FeedSource) -> Candle:
    """``candle_event`` for a bar already held to a Candle's rules where it was made: by the
    strict kline reader (``klines_csv``: the decimal bounds and ``Bar.problem``) or the
    synthetic market. A backtest builds one for every busy bar of a run, and the validation
    cost more than the handlers that read it; a bar from Binance goes through ``candle_event``.
    The same fields, set the same way: the two candles are alike to the last detail."""
    fields = _candle_fields(bar, source)
    return Candle.model_construct(set(fields), **fields, **_UNSET)


def path_ticks(bar: Bar, source: FeedSource, candle_id: UUID | None = None) -> list[TradeTick]:
    """``candle_id``: the bar's candle's id, when the caller has it already."""
    if candle_id is None:
        candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    points = candle_path(bar.open_time, bar.close_time, bar.open, bar.high, bar.low, bar.close)
    tf = bar.timeframe.value
    # Built without re-validation: every field comes from the bar (held to a Candle's rules: by
    # ``candle_event`` built beside them, or where it was read, see ``checked_bar_candle``) or
    # from the path model, which only reorders its prices.
    return [
        TradeTick.model_construct(
            message_id=derive_id("path-tick", bar.symbol, tf, bar.open_ms, i),
            correlation_id=candle_id,
            causation_id=None,
            occurred_at=p.at,
            schema_version=1,
            tenant_id="default",
            message_type="TradeTick",
            symbol=bar.symbol,
            price=p.price,
            quantity=ZERO,
            trade_id=f"path-{tf}-{bar.open_ms}-{i}",
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
