"""The projections entry_gate keeps per account, and per symbol for market data."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, PrivateAttr
from robson_contracts import PositionSide, TradeDecision
from robson_contracts.trusted import PlainAssignment


class State(PlainAssignment):
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
    baseline_price: Decimal | None = None
    """Carried into this month: the worse of entry and the mark at the month's start (its open
    loss then is already in the month-start capital, its open gain is not); None = entry."""

    @property
    def sign(self) -> int:
        return 1 if self.side is PositionSide.LONG else -1

    @property
    def baseline(self) -> Decimal:
        return self.entry_price if self.baseline_price is None else self.baseline_price

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None:
            return Decimal(0)
        return (mark - self.entry_price) * self.quantity * self.sign

    def risk_at_stop(self) -> Decimal:
        """What this month loses if the stop fills (from the baseline; never negative)."""
        if self.stop_loss is None:
            return self.baseline * self.quantity
        return max(Decimal(0), (self.baseline - self.stop_loss) * self.quantity * self.sign)


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
    realized_total: Decimal | None = None
    """All realized P&L booked (None: a document from before it was kept; then the months'
    books stand in). The months' books leave out a carried position's loss (already in the
    month-start capital) and are pruned after two months, so they cannot move equity."""
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
    day_start_unrealized: Decimal = Decimal(0)
    month_key: str | None = None
    month_start_capital: Decimal | None = None
    peak_equity: Decimal | None = None
    last_stopout_at: datetime | None = None
    last_stopout_by_symbol: dict[str, datetime] = {}
    entries: list[EntryStamp] = []
    lockouts: list[Lockout] = []
    kill_switch: KillSwitch | None = None
    breaches: list[str] = []
    """Loss limits reported this period ("day:<key>", "month:<key>"): each fires once."""
    paused_traders: dict[str, str] = {}
    queue: list[QueuedEntry] = []
    last_event_at: datetime | None = None
    _aggregates: tuple[dict[str, tuple[Decimal, Decimal]], Counter[str]] | None = PrivateAttr(None)
    _risk: tuple[dict[str, tuple[Decimal, Decimal]], Decimal] | None = PrivateAttr(None)
    _sides: dict[tuple[str, str], set[PositionSide]] | None = PrivateAttr(None)
    _ended: list[Lockout] = PrivateAttr(default_factory=list)

    def realized(self) -> Decimal:
        """All realized P&L booked: ``realized_total``, or the months' books for a document
        from before it was kept."""
        if self.realized_total is not None:
            return self.realized_total
        return sum(self.realized_by_month.values(), Decimal(0))

    def end_lockouts(self, ended: list[Lockout]) -> None:
        """Drop lockouts that stopped blocking; they wait in ``take_ended`` to be announced."""
        if ended:
            gone = {id(lk) for lk in ended}
            self.lockouts = [lk for lk in self.lockouts if id(lk) not in gone]
            self._ended.extend(ended)

    def take_ended(self) -> list[Lockout]:
        cache = self.__pydantic_private__
        ended, cache["_ended"] = cache["_ended"], []
        return ended

    # The caches are read through ``__pydantic_private__`` (a slot): ``self._aggregates`` goes
    # through pydantic's ``__getattr__``, which costs microseconds per read on the gate's hot path.

    def positions_changed(self) -> None:
        """Call after any change to ``positions``: drops the cached aggregates."""
        cache = self.__pydantic_private__
        cache["_aggregates"] = cache["_risk"] = cache["_sides"] = None

    def sides(self) -> dict[tuple[str, str], set[PositionSide]]:
        """The sides held per (trader, symbol); cached like ``aggregates``."""
        cache = self.__pydantic_private__
        sides = cache["_sides"]
        if sides is None:
            sides = {}
            for p in self.positions.values():
                sides.setdefault((p.trader_id, p.symbol), set()).add(p.side)
            cache["_sides"] = sides
        return sides

    def month_aggregates(self) -> tuple[dict[str, tuple[Decimal, Decimal]], Decimal]:
        """Per symbol (signed quantity, signed cost at the month baselines) and the open
        positions' total risk at their stops; cached like ``aggregates``."""
        risk = self.__pydantic_private__["_risk"]
        return risk if risk is not None else self._compute()[1]

    def aggregates(self) -> tuple[dict[str, tuple[Decimal, Decimal]], Counter[str]]:
        """Per symbol (signed quantity, signed cost) and open positions per trader, cached so
        an evaluation over 1,000 positions costs one pass per change, not per decision."""
        aggregates = self.__pydantic_private__["_aggregates"]
        return aggregates if aggregates is not None else self._compute()[0]

    def _compute(self) -> tuple[tuple[dict[str, tuple[Decimal, Decimal]], Counter[str]],
                                tuple[dict[str, tuple[Decimal, Decimal]], Decimal]]:
        """One pass over the positions for both caches (hot: every position event)."""
        zero = Decimal(0)
        exposure: dict[str, tuple[Decimal, Decimal]] = {}
        month: dict[str, tuple[Decimal, Decimal]] = {}
        traders: Counter[str] = Counter()
        risk = zero
        long = PositionSide.LONG
        for p in self.positions.values():
            q = p.quantity if p.side is long else -p.quantity
            entry, base, stop = p.entry_price, p.baseline_price, p.stop_loss
            qty, cost = exposure.get(p.symbol, (zero, zero))
            exposure[p.symbol] = (qty + q, cost + q * entry)
            if base is None:
                base = entry
            mq, mc = month.get(p.symbol, (zero, zero))
            month[p.symbol] = (mq + q, mc + q * base)
            traders[p.trader_id] += 1
            if stop is None:
                risk += base * p.quantity
            else:
                at_stop = (base - stop) * q
                if at_stop > zero:
                    risk += at_stop
        cache = self.__pydantic_private__
        cache["_aggregates"] = aggregates = (exposure, traders)
        cache["_risk"] = at_month_baselines = (month, risk)
        return aggregates, at_month_baselines


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
