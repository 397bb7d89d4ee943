"""What a decision is made from: built by the service from events it consumed itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from robson_contracts import SignalDetected, TakeProfitLevel
from robson_contracts.types import PositionSide


@dataclass(frozen=True)
class Bar:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class MarketSnapshot:
    funding_rate: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    as_of: datetime | None = None


@dataclass(frozen=True)
class OpenPosition:
    position_id: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    stop_loss: Decimal | None
    initial_stop: Decimal | None
    take_profits: tuple[TakeProfitLevel, ...]
    opened_at: datetime
    trailing: bool = False

    def pnl_pct(self, price: Decimal) -> Decimal:
        move = (price - self.entry_price) / self.entry_price * 100
        return move if self.side is PositionSide.LONG else -move

    def r_multiple(self, price: Decimal) -> Decimal | None:
        if self.initial_stop is None or self.initial_stop == self.entry_price:
            return None
        risk = abs(self.entry_price - self.initial_stop)
        gain = (
            price - self.entry_price if self.side is PositionSide.LONG else self.entry_price - price
        )
        return gain / risk

    def stop_at_or_past_entry(self) -> bool:
        if self.stop_loss is None:
            return False
        if self.side is PositionSide.LONG:
            return self.stop_loss >= self.entry_price
        return self.stop_loss <= self.entry_price


@dataclass(frozen=True)
class Performance:
    trades: int = 0
    wins: int = 0
    losses: int = 0
    avg_pnl_pct: Decimal = Decimal(0)

    def summary(self) -> str:
        if not self.trades:
            return "no closed trades yet"
        return (
            f"last {self.trades} trades: {self.wins}W/{self.losses}L, avg {self.avg_pnl_pct:+.2f}%"
        )


@dataclass(frozen=True)
class DecisionContext:
    """One question for one trader: a signal (entry) or a candle close (position review)."""

    account_id: str
    trader_id: str
    symbol: str
    timeframe: str
    as_of: datetime
    """Event time of the input: the decision's ``occurred_at``."""
    price: Decimal
    signal: SignalDetected | None = None
    bars: tuple[Bar, ...] = ()
    """Closed candles, oldest first, up to and including the current one."""
    market: MarketSnapshot = field(default_factory=MarketSnapshot)
    position: OpenPosition | None = None
    performance: Performance = field(default_factory=Performance)

    @property
    def kind(self) -> str:
        return "entry" if self.signal is not None else "management"

    def candles_in_trade(self) -> int:
        if self.position is None:
            return 0
        return sum(1 for b in self.bars if b.open_time >= self.position.opened_at)
