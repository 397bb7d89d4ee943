"""Builders of test inputs (seeded, deterministic)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_contracts import (
    Candle,
    PositionClosed,
    PositionOpened,
    SignalDetected,
    TakeProfitLevel,
    derive_id,
)
from robson_contracts.types import PositionSide
from robson_decision.domain.context import Bar, DecisionContext, OpenPosition

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)


def bars(
    n: int = 30, start: Decimal = Decimal("100"), seed: int = 7, end: datetime | None = None
) -> tuple[Bar, ...]:
    rng = random.Random(seed)
    out: list[Bar] = []
    close = start
    last_open = end or T0
    for i in range(n):
        open_ = close
        close = (open_ * (1 + Decimal(rng.randint(-100, 100)) / 10000)).quantize(Decimal("0.01"))
        high = max(open_, close) + Decimal("0.50")
        low = min(open_, close) - Decimal("0.50")
        out.append(Bar(last_open - FIVE_MIN * (n - 1 - i), open_, high, low, close, Decimal("10")))
    return tuple(out)


def candle(bar: Bar, symbol: str = "BTCUSDT", timeframe: str = "5m") -> Candle:
    return Candle(
        message_id=derive_id("test-candle", symbol, timeframe, bar.open_time),
        occurred_at=bar.open_time + FIVE_MIN,
        symbol=symbol,
        timeframe=timeframe,
        open_time=bar.open_time,
        close_time=bar.open_time + FIVE_MIN,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
    )


def signal(
    direction: str = "LONG",
    strength: str = "0.8",
    price: str = "100",
    i: int = 1,
    trader_id: str = "trader1",
    candle_time: datetime = T0,
    account_id: str = "acc1",
    symbol: str = "BTCUSDT",
) -> SignalDetected:
    return SignalDetected(
        message_id=derive_id("test-signal", trader_id, i),
        occurred_at=candle_time + FIVE_MIN,
        account_id=account_id,
        signal_id=f"sig-{i}",
        strategy="ema_cross",
        trader_id=trader_id,
        symbol=symbol,
        timeframe="5m",
        direction=direction,
        strength=strength,
        price=price,
        candle_time=candle_time,
    )


def position(
    side: str = "LONG",
    entry: str = "100",
    stop: str | None = "98",
    initial_stop: str | None = "98",
    opened_at: datetime = T0,
    trailing: bool = False,
) -> OpenPosition:
    entry_d = Decimal(entry)
    sign = 1 if side == "LONG" else -1
    return OpenPosition(
        position_id="pos-1",
        side=PositionSide(side),
        quantity=Decimal("1"),
        entry_price=entry_d,
        stop_loss=Decimal(stop) if stop else None,
        initial_stop=Decimal(initial_stop) if initial_stop else None,
        take_profits=(TakeProfitLevel(price=entry_d + sign * 4, fraction=Decimal("0.5")),),
        opened_at=opened_at,
        trailing=trailing,
    )


def opened(
    trader_id: str = "trader1",
    position_id: str = "pos-1",
    account_id: str | None = None,
    opened_at: datetime = T0,
) -> PositionOpened:
    """A LONG of 1 at 100, stop 98, one take-profit at 104, on BTCUSDT."""
    return PositionOpened(
        message_id=derive_id("test-opened", position_id),
        occurred_at=opened_at,
        account_id=account_id or trader_id,
        position_id=position_id,
        trader_id=trader_id,
        symbol="BTCUSDT",
        side="LONG",
        quantity="1",
        entry_price="100",
        stop_loss="98",
        take_profits=(TakeProfitLevel(price=Decimal("104"), fraction=Decimal("1")),),
        initial_risk="2",
        fees="0",
    )


def closed(
    trader_id: str = "trader1",
    position_id: str = "pos-0",
    pnl: str = "3",
    closed_at: datetime = T0,
) -> PositionClosed:
    """A LONG of 1 bought at 100 and closed ``pnl`` later (net)."""
    return PositionClosed(
        message_id=derive_id("test-closed", position_id),
        occurred_at=closed_at,
        account_id=trader_id,
        position_id=position_id,
        trader_id=trader_id,
        symbol="BTCUSDT",
        side="LONG",
        quantity="1",
        entry_price="100",
        exit_price=str(Decimal("100") + Decimal(pnl)),
        realized_pnl=pnl,
        fees="0",
        exit_reason="TAKE_PROFIT",
        opened_at=closed_at - FIVE_MIN * 6,
        holding_seconds=1800,
    )


def entry_ctx(
    sig: SignalDetected | None = None,
    with_bars: tuple[Bar, ...] = (),
    pos: OpenPosition | None = None,
) -> DecisionContext:
    sig = sig or signal()
    return DecisionContext(
        account_id=sig.account_id,
        trader_id=sig.trader_id,
        symbol=sig.symbol,
        timeframe="5m",
        as_of=sig.occurred_at,
        price=sig.price,
        signal=sig,
        bars=with_bars,
        position=pos,
    )


def review_ctx(
    price: str,
    pos: OpenPosition,
    with_bars: tuple[Bar, ...] = (),
    as_of: datetime = T0 + timedelta(hours=1),
) -> DecisionContext:
    return DecisionContext(
        account_id="acc1",
        trader_id="trader1",
        symbol="BTCUSDT",
        timeframe="5m",
        as_of=as_of,
        price=Decimal(price),
        bars=with_bars,
        position=pos,
    )


__all__ = [
    "T0",
    "bars",
    "candle",
    "closed",
    "entry_ctx",
    "opened",
    "position",
    "replace",
    "review_ctx",
    "signal",
]
