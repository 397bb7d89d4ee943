"""Market data: trades, candles, futures context, account balances."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import model_validator

from robson_contracts.base import AccountMessage, Message, Model
from robson_contracts.types import (
    Dec,
    NonNegativeDec,
    PositiveDec,
    Symbol,
    Timeframe,
    TradingMode,
    UtcDatetime,
)


class FeedSource(StrEnum):
    BINANCE = "BINANCE"
    REPLAY = "REPLAY"
    SYNTHETIC = "SYNTHETIC"
    EXTERNAL = "EXTERNAL"


class TradeTick(Message):
    """A traded (or path-model) price at event time ``occurred_at``."""

    message_type: Literal["TradeTick"] = "TradeTick"
    symbol: Symbol
    price: PositiveDec
    quantity: NonNegativeDec = Decimal(0)
    trade_id: str | None = None
    source: FeedSource = FeedSource.BINANCE


class Candle(Message):
    """An OHLCV bar. ``closed`` is False for in-progress updates; strategies act on closed ones."""

    message_type: Literal["Candle"] = "Candle"
    symbol: Symbol
    timeframe: Timeframe
    open_time: UtcDatetime
    close_time: UtcDatetime
    open: PositiveDec
    high: PositiveDec
    low: PositiveDec
    close: PositiveDec
    volume: NonNegativeDec
    closed: bool = True
    source: FeedSource = FeedSource.BINANCE

    @model_validator(mode="after")
    def _consistent_bar(self) -> Candle:
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise ValueError("high/low must bound open and close")
        if self.close_time <= self.open_time:
            raise ValueError("close_time must be after open_time")
        return self


class MarketContext(Message):
    """Futures context for a symbol: funding, mark/index price, open interest."""

    message_type: Literal["MarketContext"] = "MarketContext"
    symbol: Symbol
    funding_rate: Dec | None = None
    next_funding_time: UtcDatetime | None = None
    mark_price: PositiveDec | None = None
    index_price: PositiveDec | None = None
    open_interest: NonNegativeDec | None = None
    source: FeedSource = FeedSource.BINANCE


class AssetBalance(Model):
    asset: str
    free: NonNegativeDec
    locked: NonNegativeDec


class BalanceSnapshot(AccountMessage):
    """An account's balances as the venue (paper or Binance) sees them."""

    message_type: Literal["BalanceSnapshot"] = "BalanceSnapshot"
    mode: TradingMode
    quote_asset: str = "USDT"
    balances: tuple[AssetBalance, ...]
    equity: NonNegativeDec | None = None
    """Total value in the quote asset, when the venue can mark it."""
