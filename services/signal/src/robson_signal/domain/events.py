"""A closed bar as bus events: path ticks (the model `paper` shares), then the candle."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from robson_contracts import Candle, FeedSource, TradeTick, derive_id
from robson_contracts.pricepath import candle_path
from robson_contracts.trusted import built_whole, trusted

from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import candle_message_id

ZERO = Decimal(0)

_MESSAGE = ("message_id", "correlation_id", "causation_id", "occurred_at", "schema_version",
            "tenant_id", "message_type")
built_whole(Candle, (*_MESSAGE, "symbol", "timeframe", "open_time", "close_time", "open",
                     "high", "low", "close", "volume", "closed", "source"))
built_whole(TradeTick, (*_MESSAGE, "symbol", "price", "quantity", "trade_id", "source"))
_CANDLE_SET = frozenset(("message_id", "correlation_id", "occurred_at", "symbol", "timeframe",
                         "open_time", "close_time", "open", "high", "low", "close", "volume",
                         "closed", "source"))
"""The fields ``candle_event`` sets (the rest are its defaults)."""
_TICK_SET = frozenset(TradeTick.__pydantic_fields__)


def _candle_values(bar: Bar, source: FeedSource) -> dict[str, object]:
    """Every field of the bar's Candle, in the model's order (``built_whole``)."""
    candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    close_time = bar.close_time
    return {
        "message_id": candle_id, "correlation_id": candle_id, "causation_id": None,
        "occurred_at": close_time, "schema_version": 1, "tenant_id": "default",
        "message_type": "Candle", "symbol": bar.symbol, "timeframe": bar.timeframe,
        "open_time": bar.open_time, "close_time": close_time, "open": bar.open, "high": bar.high,
        "low": bar.low, "close": bar.close, "volume": bar.volume, "closed": True,
        "source": source}


def candle_event(bar: Bar, source: FeedSource) -> Candle:
    values = _candle_values(bar, source)
    return Candle(**{k: values[k] for k in _CANDLE_SET})  # type: ignore[arg-type]


def checked_bar_candle(bar: Bar, source: FeedSource) -> Candle:
    """``candle_event`` for a bar already held to a Candle's rules where it was made: by the
    strict kline reader (``klines_csv``: the decimal bounds and ``Bar.problem``) or the
    synthetic market. A backtest builds one for every busy bar of a run, and the validation
    cost more than the handlers that read it; a bar from Binance goes through ``candle_event``.
    The same fields, set the same way: the two candles are alike to the last detail."""
    return trusted(Candle, _candle_values(bar, source), set(_CANDLE_SET))


def path_ticks(bar: Bar, source: FeedSource, candle_id: UUID | None = None) -> list[TradeTick]:
    """``candle_id``: the bar's candle's id, when the caller has it already."""
    if candle_id is None:
        candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    points = candle_path(bar.open_time, bar.close_time, bar.open, bar.high, bar.low, bar.close)
    tf = bar.timeframe.value
    # Built without re-validation: every field comes from the bar (held to a Candle's rules: by
    # ``candle_event`` built beside them, or where it was read, see ``checked_bar_candle``) or
    # from the path model, which only reorders its prices.
    symbol, open_ms = bar.symbol, bar.open_ms
    return [
        trusted(TradeTick, {
            "message_id": derive_id("path-tick", symbol, tf, open_ms, i),
            "correlation_id": candle_id, "causation_id": None, "occurred_at": p.at,
            "schema_version": 1, "tenant_id": "default", "message_type": "TradeTick",
            "symbol": symbol, "price": p.price, "quantity": ZERO,
            "trade_id": f"path-{tf}-{open_ms}-{i}", "source": source}, set(_TICK_SET))
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
