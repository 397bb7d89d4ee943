"""The projections entry_gate keeps per account, and per symbol for market data."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, PrivateAttr
from robson_contracts import PositionSide, TradeDecision


class State(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class OpenPosition(State):
    position_id: str
    trader_id: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    stop_loss: Decimal | None = None
    initial_risk: Decimal = Decimal(0)
    opened_at: datetime

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None:
            return Decimal(0)
        sign = 1 if self.side is PositionSide.LONG else -1
        return (mark - self.entry_price) * self.quantity * sign


class PendingEntry(State):
    """An ALLOW the position service has not reported on yet: it counts like a position."""

    gate_decision_id: str
    decision_id: str
    trader_id: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    risk: Decimal
    allowed_at: datetime


class LockoutScope(StrEnum):
    ACCOUNT = "ACCOUNT"
    TRADER = "TRADER"
    SYMBOL = "SYMBOL"


class Lockout(State):
    """Hard (``until`` a time), a cooldown (``until`` = set + duration) or open-ended (None,
    admin only). ``daily`` lockouts also end at the daily reset."""

    lockout_id: str
    scope: LockoutScope = LockoutScope.ACCOUNT
    key: str | None = None
    reason_code: str
    message: str
    set_at: datetime
    until: datetime | None = None
    daily: bool = False

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def applies(self, trader_id: str, symbol: str) -> bool:
        if self.scope is LockoutScope.TRADER:
            return self.key == trader_id
        if self.scope is LockoutScope.SYMBOL:
            return self.key == symbol
        return True


class KillSwitch(State):
    engaged_at: datetime
    equity: Decimal
    peak_equity: Decimal
    drawdown: Decimal
    message: str


class EntryStamp(State):
    at: datetime
    trader_id: str
    symbol: str


class QueuedEntry(State):
    decision: TradeDecision
    queued_at: datetime


class AccountState(State):
    account_id: str
    positions: dict[str, OpenPosition] = {}
    pending: dict[str, PendingEntry] = {}
    realized_by_day: dict[str, Decimal] = {}
    realized_by_month: dict[str, Decimal] = {}
    booked_partials: dict[str, Decimal] = {}
    """Realized P&L already booked from partial closes, per open position."""
    equity: Decimal | None = None
    """Equity from the latest BalanceSnapshot."""
    free_quote: Decimal | None = None
    equity_at: datetime | None = None
    unrealized_at_snapshot: Decimal = Decimal(0)
    marks_at_snapshot: dict[str, Decimal] = {}
    """The marks ``unrealized_at_snapshot`` was taken at, per symbol."""
    day_key: str | None = None
    day_start_capital: Decimal | None = None
    month_key: str | None = None
    month_start_capital: Decimal | None = None
    peak_equity: Decimal | None = None
    last_stopout_at: datetime | None = None
    last_stopout_by_symbol: dict[str, datetime] = {}
    entries: list[EntryStamp] = []
    lockouts: list[Lockout] = []
    kill_switch: KillSwitch | None = None
    paused_traders: dict[str, str] = {}
    queue: list[QueuedEntry] = []
    last_event_at: datetime | None = None
    _aggregates: tuple[dict[str, tuple[Decimal, Decimal]], Counter[str]] | None = PrivateAttr(None)

    def positions_changed(self) -> None:
        """Call after any change to ``positions``: drops the cached aggregates."""
        self._aggregates = None

    def aggregates(self) -> tuple[dict[str, tuple[Decimal, Decimal]], Counter[str]]:
        """Per symbol (signed quantity, signed cost) and open positions per trader, cached so
        an evaluation over 1,000 positions costs one pass per change, not per decision."""
        if self._aggregates is None:
            exposure: dict[str, tuple[Decimal, Decimal]] = {}
            for p in self.positions.values():
                q = p.quantity if p.side is PositionSide.LONG else -p.quantity
                qty, cost = exposure.get(p.symbol, (Decimal(0), Decimal(0)))
                exposure[p.symbol] = (qty + q, cost + q * p.entry_price)
            self._aggregates = (exposure, Counter(p.trader_id for p in self.positions.values()))
        return self._aggregates


class MarketSnapshot(State):
    symbol: str
    last_price: Decimal | None = None
    price_at: datetime | None = None
    funding_rate: Decimal | None = None
    mark_price: Decimal | None = None
    context_at: datetime | None = None

    @property
    def data_at(self) -> datetime | None:
        times = [t for t in (self.price_at, self.context_at) if t is not None]
        return max(times) if times else None

    @property
    def mark(self) -> Decimal | None:
        if self.mark_price is not None and (self.price_at is None or
                                            (self.context_at and self.context_at > self.price_at)):
            return self.mark_price
        return self.last_price


Market = dict[str, MarketSnapshot]
