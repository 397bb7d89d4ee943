"""A write-through in-memory mirror of what the context builder reads: trader settings, recent
candles, market context and the position projection.

It is rebuilt from the schema at start, and every change is applied only once its transaction
has committed (``uow.after_commit``), so it mirrors committed rows: a rolled-back batch or a
redelivered message (dropped by the inbox) leaves it untouched. The signal path therefore reads
no table at all. One running instance per schema: another replica's writes would not be seen.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from robson_contracts import TakeProfitLevel
from robson_contracts.types import PositionSide

from robson_decision.domain.context import Bar, MarketSnapshot, OpenPosition, Performance
from robson_decision.domain.settings import DEFAULT_SETTINGS, TraderSettings

CLOSED_KEPT = 50
"""Closed trades remembered per trader; older ones are read from the table when needed."""


@dataclass(frozen=True)
class Projection:
    """An open position as the decision service knows it (from position events)."""

    position: OpenPosition
    account_id: str
    trader_id: str
    symbol: str
    timeframe: str | None


@dataclass(frozen=True, order=True)
class ClosedTrade:
    closed_at: datetime
    position_id: str
    realized_pnl: Decimal
    pnl_pct: Decimal | None


@dataclass
class Memory:
    settings: dict[str, TraderSettings] = field(default_factory=dict)
    bars: dict[tuple[str, str], list[Bar]] = field(default_factory=dict)
    market: dict[str, list[MarketSnapshot]] = field(default_factory=dict)
    open: dict[str, Projection] = field(default_factory=dict)
    closed: dict[str, list[ClosedTrade]] = field(default_factory=dict)
    """Per trader, oldest first."""
    trimmed: set[str] = field(default_factory=set)
    """Traders with more closed trades in the table than in ``closed``."""
    _open_of: dict[tuple[str, str], dict[str, Projection]] = field(default_factory=dict)
    """``open`` by (trader, symbol): what each signal asks (changed with ``open`` only)."""
    _open_on: dict[str, int] = field(default_factory=dict)
    """How many of ``open`` are on each symbol."""

    # --- settings ---------------------------------------------------------------------------

    def trader_settings(self, trader_id: str) -> TraderSettings:
        return self.settings.get(trader_id, DEFAULT_SETTINGS)

    def put_settings(self, trader_id: str, settings: TraderSettings) -> None:
        self.settings[trader_id] = settings

    # --- candles and market context ---------------------------------------------------------

    def window(self, symbol: str, timeframe: str, until: datetime, limit: int) -> tuple[Bar, ...]:
        """The last ``limit`` closed candles opened at or before ``until``, oldest first."""
        bars = self.bars.get((symbol, timeframe), [])
        end = bisect_right(bars, until, key=_open_time)
        return tuple(bars[max(0, end - limit) : end])

    def add_bar(self, symbol: str, timeframe: str, bar: Bar, horizon: datetime) -> None:
        """Like the table: the first copy of a candle wins; candles before ``horizon`` go."""
        bars = self.bars.setdefault((symbol, timeframe), [])
        at = bisect_right(bars, bar.open_time, key=_open_time)
        if not (at and bars[at - 1].open_time == bar.open_time):
            bars.insert(at, bar)
        del bars[: bisect_left(bars, horizon, key=_open_time)]

    def market_at(self, symbol: str, until: datetime) -> MarketSnapshot:
        snapshots = self.market.get(symbol, [])
        end = bisect_right(snapshots, until, key=_as_of)
        return snapshots[end - 1] if end else MarketSnapshot()

    def add_market(self, symbol: str, snapshot: MarketSnapshot, keep: timedelta) -> None:
        assert snapshot.as_of is not None
        snapshots = self.market.setdefault(symbol, [])
        at = bisect_right(snapshots, snapshot.as_of, key=_as_of)
        if not (at and snapshots[at - 1].as_of == snapshot.as_of):
            snapshots.insert(at, snapshot)
        del snapshots[: bisect_left(snapshots, snapshot.as_of - keep, key=_as_of)]

    # --- positions --------------------------------------------------------------------------

    def apply_position(self, row: Mapping[str, Any]) -> None:
        """A committed row of the ``positions`` table (from RETURNING, or loaded at start)."""
        pid = row["position_id"]
        if row["closed_at"] is None:
            self.add_open(projection(row))
            return
        self._drop_open(pid)
        trades = [t for t in self.closed.get(row["trader_id"], []) if t.position_id != pid]
        insort(trades, ClosedTrade(row["closed_at"], pid, row["realized_pnl"], row["pnl_pct"]))
        if len(trades) > CLOSED_KEPT:
            del trades[: len(trades) - CLOSED_KEPT]
            self.trimmed.add(row["trader_id"])
        self.closed[row["trader_id"]] = trades

    def add_open(self, p: Projection) -> None:
        """An open position (a newer projection of one known replaces it)."""
        pid = p.position.position_id
        self._drop_open(pid)
        self.open[pid] = p
        self._open_of.setdefault((p.trader_id, p.symbol), {})[pid] = p
        self._open_on[p.symbol] = self._open_on.get(p.symbol, 0) + 1

    def _drop_open(self, pid: str) -> None:
        p = self.open.pop(pid, None)
        if p is None:
            return
        key = (p.trader_id, p.symbol)
        mine = self._open_of[key]
        del mine[pid]
        if not mine:
            del self._open_of[key]
        left = self._open_on[p.symbol] - 1
        if left:
            self._open_on[p.symbol] = left
        else:
            del self._open_on[p.symbol]

    def open_position(self, trader_id: str, symbol: str) -> OpenPosition | None:
        mine = self._open_of.get((trader_id, symbol))
        if not mine:
            return None
        return max((p.position for p in mine.values()), key=lambda p: (p.opened_at, p.position_id))

    def has_open_on(self, symbol: str) -> bool:
        return symbol in self._open_on

    def performance(self, trader_id: str, until: datetime, last: int = 10) -> Performance | None:
        """None when the answer needs trades older than the ones kept here."""
        trades = self.closed.get(trader_id, [])
        end = bisect_right(trades, until, key=lambda t: t.closed_at)
        if end < last and trader_id in self.trimmed:
            return None
        return summarize([(t.realized_pnl, t.pnl_pct)
                          for t in reversed(trades[max(0, end - last) : end])])


def summarize(trades: Iterable[tuple[Decimal, Decimal | None]]) -> Performance:
    """(realized P&L, P&L %) of the last trades → "6W/4L, avg +2.50%"."""
    rows = list(trades)
    if not rows:
        return Performance()
    wins, total = 0, Decimal(0)
    for pnl, pct in rows:  # one pass: every decision asks (a trade without a % counts 0)
        if pnl > 0:
            wins += 1
        if pct:
            total += pct
    avg = total / len(rows)
    return Performance(len(rows), wins, len(rows) - wins, avg.quantize(Decimal("0.01")))


def projection(row: Mapping[str, Any]) -> Projection:
    position = OpenPosition(
        position_id=row["position_id"],
        side=PositionSide(row["side"]),
        quantity=row["quantity"],
        entry_price=row["entry_price"],
        stop_loss=row["stop_loss"],
        initial_stop=row["initial_stop"],
        take_profits=tuple(TakeProfitLevel.model_validate(t) for t in row["take_profits"]),
        opened_at=row["opened_at"],
        trailing=row["trailing"],
    )
    return Projection(
        position, row["account_id"], row["trader_id"], row["symbol"], row["timeframe"]
    )


def _open_time(bar: Bar) -> datetime:
    return bar.open_time


def _as_of(snapshot: MarketSnapshot) -> datetime:
    return snapshot.as_of  # type: ignore[return-value]
