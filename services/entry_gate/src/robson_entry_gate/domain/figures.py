"""Derived risk figures of one account at one instant: capital, equity, P&L, counts.

Read-only over the projection, so a dry run and a real evaluation see the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Generic, TypeVar

from robson_entry_gate.domain.calendar import TradingCalendar
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.state import AccountState, Market

ZERO = Decimal(0)
T = TypeVar("T")


class cached_property(Generic[T]):
    """``functools.cached_property`` without its lock: Python 3.11's takes an RLock on every
    first read, and a ``Figures`` lives for one evaluation in one task, so every read here is a
    first read (0.3 µs instead of 0.7 µs, tens of reads per evaluation)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def calendar_of(policy: AccountPolicy) -> TradingCalendar:
    return _calendar(policy.daily_reset.time, policy.daily_reset.timezone)


@lru_cache(maxsize=64)
def _calendar(reset: time, timezone: str) -> TradingCalendar:
    return TradingCalendar(reset, timezone)


class Figures:
    def __init__(self, state: AccountState, market: Market, policy: AccountPolicy,
                 now: datetime) -> None:
        self.state = state
        self.market = market
        self.policy = policy
        self.now = now
        self.calendar = calendar_of(policy)

    @cached_property
    def day_key(self) -> str:
        return self.calendar.day_key(self.now)

    @cached_property
    def month_key(self) -> str:
        return self.calendar.month_key(self.now)

    @cached_property
    def marks(self) -> dict[str, Decimal]:
        """The mark of every held symbol that has one (read once per evaluation)."""
        out: dict[str, Decimal] = {}
        for symbol in self.state.aggregates()[0]:
            snap = self.market.get(symbol)
            mark = snap.mark if snap is not None else None
            if mark is not None:
                out[symbol] = mark
        return out

    @cached_property
    def unrealized(self) -> Decimal:
        total, marks = ZERO, self.marks
        for symbol, (qty, cost) in self.state.aggregates()[0].items():
            mark = marks.get(symbol)
            if mark is not None:
                total += qty * mark - cost
        return total

    @cached_property
    def capital_known(self) -> bool:
        return self.state.equity is not None or self.policy.sizing.default_capital is not None

    @cached_property
    def equity(self) -> Decimal:
        """Last snapshot's equity moved by the change in unrealized P&L since then."""
        s = self.state
        if s.equity is not None:
            return s.equity + self.unrealized - s.unrealized_at_snapshot
        base = self.policy.sizing.default_capital or ZERO
        return base + s.realized() + self.unrealized

    @cached_property
    def free_quote(self) -> Decimal:
        """The latest snapshot's free quote, less what pending entries will spend and what
        positions opened since the snapshot spent (it cannot hold them yet: once an approval
        opens it is no longer pending, and its cash would count as free again until the next
        snapshot). Before any snapshot: the default capital and the realized P&L, less every
        open position."""
        s = self.state
        reserved = sum((p.quantity * p.entry_price for p in s.pending.values()), ZERO)
        free, since = s.free_quote, s.equity_at
        if free is None:
            free, since = (self.policy.sizing.default_capital or ZERO) + s.realized(), None
        reserved += sum((p.quantity * p.entry_price for p in s.positions.values()
                         if since is None or p.opened_at > since), ZERO)
        return max(ZERO, free - reserved)

    @cached_property
    def day_start_capital(self) -> Decimal:
        s = self.state
        if s.day_key == self.day_key and s.day_start_capital is not None:
            return s.day_start_capital
        return self.equity

    @cached_property
    def month_start_capital(self) -> Decimal:
        s = self.state
        if s.month_key == self.month_key and s.month_start_capital is not None:
            return s.month_start_capital
        return self.equity

    @cached_property
    def realized_today(self) -> Decimal:
        return self.state.realized_by_day.get(self.day_key, ZERO)

    @cached_property
    def realized_month(self) -> Decimal:
        return self.state.realized_by_month.get(self.month_key, ZERO)

    @cached_property
    def month_open_pnl(self) -> Decimal:
        """Open P&L since each position's month baseline (entry, or the month-start mark of a
        position carried in at a loss)."""
        total, marks = ZERO, self.marks
        for symbol, (qty, cost) in self.state.month_aggregates()[0].items():
            mark = marks.get(symbol)
            if mark is not None:
                total += qty * mark - cost
        return total

    @cached_property
    def month_pnl(self) -> Decimal:
        """Realized this month plus open losses: open gains never unlock risk."""
        return self.realized_month + min(ZERO, self.month_open_pnl)

    @cached_property
    def open_risk(self) -> Decimal:
        """What the month loses if every open position and pending entry stops out."""
        pending = sum((p.risk for p in self.pending_entries), ZERO)
        return self.state.month_aggregates()[1] + pending

    @cached_property
    def month_headroom(self) -> Decimal:
        """Loss the month may still take: limit × month-start capital + realized − open risk,
        a realized gain counting only at the limit's share. A new entry's risk must fit in it,
        so the limit holds even if every stop fills — in this month, and in the next one if
        the positions are carried into it: the next month's capital takes this month's gain in
        at the limit's share only, so a gain counted in full here would let the carried risk
        exceed the next month's limit."""
        limit = self.policy.monthly_loss.limit
        realized = self.realized_month
        return limit * self.month_start_capital + min(realized, limit * realized) - self.open_risk

    @cached_property
    def day_pnl(self) -> Decimal:
        """Realized today + the change in open P&L since the day's start (so a position
        carried over counts once, from its mark at the reset)."""
        s = self.state
        start = s.day_start_unrealized if s.day_key == self.day_key else self.unrealized
        return self.realized_today + self.unrealized - start

    @cached_property
    def month_pnl_pct(self) -> Decimal:
        return _ratio(self.month_pnl, self.month_start_capital)

    @cached_property
    def day_pnl_pct(self) -> Decimal:
        return _ratio(self.day_pnl, self.day_start_capital)

    @cached_property
    def peak_equity(self) -> Decimal:
        peak = self.state.peak_equity
        return self.month_start_capital if peak is None else peak

    @cached_property
    def drawdown(self) -> Decimal:
        peak = self.peak_equity
        return ZERO if peak <= 0 else max(ZERO, (peak - self.equity) / peak)

    @cached_property
    def max_concurrency(self) -> int:
        c = self.policy.concurrency
        slots = int((c.budget + self.month_pnl_pct) // c.unit)
        slots = max(0, slots)
        return slots if c.cap is None else min(slots, c.cap)

    @cached_property
    def open_by_trader(self) -> Counter[str]:
        counts: Counter[str] = Counter(self.state.aggregates()[1])
        counts.update(p.trader_id for p in self.pending_entries)
        return counts

    @cached_property
    def pending_entries(self) -> list:
        """Approvals position has not reported on: they count until it does, at any age."""
        return list(self.state.pending.values())

    @cached_property
    def open_count(self) -> int:
        return len(self.state.positions) + len(self.pending_entries)

    def active_lockouts(self) -> list:
        return [lk for lk in self.state.lockouts if lk.active(self.now)]

    def inputs(self) -> dict[str, str]:
        return {
            "equity": _s(self.equity),
            "month_start_capital": _s(self.month_start_capital),
            "day_start_capital": _s(self.day_start_capital),
            "realized_month": _s(self.realized_month),
            "realized_today": _s(self.realized_today),
            "unrealized": _s(self.unrealized),
            "month_open_pnl": _s(self.month_open_pnl),
            "open_risk": _s(self.open_risk),
            "month_headroom": _s(self.month_headroom),
            "month_pnl_pct": _s(self.month_pnl_pct),
            "day_pnl_pct": _s(self.day_pnl_pct),
            "peak_equity": _s(self.peak_equity),
            "drawdown": _s(self.drawdown),
            "max_concurrency": str(self.max_concurrency),
            "open_positions": str(len(self.state.positions)),
            "pending_entries": str(len(self.pending_entries)),
            "free_quote": _s(self.free_quote),
            "capital_source": "snapshot" if self.state.equity is not None else "default",
            "evaluated_at": self.now.isoformat(),
        }


def _ratio(value: Decimal, base: Decimal) -> Decimal:
    return ZERO if base <= 0 else value / base


def _s(value: Decimal) -> str:
    return format(value.quantize(_EIGHT_PLACES).normalize(), "f")


_EIGHT_PLACES = Decimal("0.00000001")
