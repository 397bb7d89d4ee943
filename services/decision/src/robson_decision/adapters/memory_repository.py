"""The decision repository in memory: the same reads and writes as ``repository.Repository``,
on dicts instead of the schema (for the one-process backtest; cosmicpython's real fake).

One ``MemoryTables`` stands for the schema; ``MemoryRepository(tables)`` is what a handler gets
for a unit of work. Writes land at once: the backtest runs one message at a time, so there is
no transaction to roll back.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from robson_contracts import Candle, MarketContext

from robson_decision.adapters.memory import summarize
from robson_decision.adapters.repository import DecisionDocuments
from robson_decision.domain.context import Bar, Performance
from robson_decision.domain.settings import TraderSettings

POSITION_COLUMNS = (
    "position_id", "account_id", "trader_id", "symbol", "side", "timeframe", "quantity",
    "entry_price", "stop_loss", "initial_stop", "take_profits", "trailing", "opened_at",
    "closed_at", "realized_pnl", "pnl_pct", "last_suggestion",
)


@dataclass
class MemoryTables:
    candles: dict[tuple[str, str], list[Bar]] = field(default_factory=dict)
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)
    open: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Closed positions per trader (an index for ``performance``)."""
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_calls: list[dict[str, Any]] = field(default_factory=list)
    llm_usage: dict[str, tuple[str, datetime, int]] = field(default_factory=dict)
    """Per review id: (trader, occurred_at, model calls) of reviews that stored no decision."""
    settings: dict[str, TraderSettings] = field(default_factory=dict)


def _open_time(bar: Bar) -> datetime:
    return bar.open_time


class MemoryRepository:
    def __init__(self, tables: MemoryTables) -> None:
        self.t = tables

    # --- market data ------------------------------------------------------------------------
    async def add_candle(self, c: Candle, horizon: datetime) -> None:
        bars = self.t.candles.setdefault((c.symbol, c.timeframe.value), [])
        at = bisect_right(bars, c.open_time, key=_open_time)
        if not (at and bars[at - 1].open_time == c.open_time):
            bars.insert(at, Bar(c.open_time, c.open, c.high, c.low, c.close, c.volume))
        del bars[: bisect_left(bars, horizon, key=_open_time)]

    async def bars(self, symbol: str, timeframe: str, until: datetime, limit: int) -> tuple[Bar, ...]:
        bars = self.t.candles.get((symbol, timeframe), [])
        end = bisect_right(bars, until, key=_open_time)
        return tuple(bars[max(0, end - limit) : end])

    async def add_market_context(self, m: MarketContext, horizon: datetime) -> None:
        """Market context lives in ``Memory`` (the mirror); nothing else reads the table."""

    # --- positions --------------------------------------------------------------------------
    async def add_position(self, values: dict[str, Any]) -> dict[str, Any] | None:
        if values["position_id"] in self.t.positions:
            return None
        row = {c: values.get(c) for c in POSITION_COLUMNS}
        row["trailing"] = bool(row["trailing"])
        self.t.positions[row["position_id"]] = row
        if row["closed_at"] is None:
            self.t.open[row["position_id"]] = row
        return dict(row)

    async def update_position(self, position_id: str, **values: Any) -> dict[str, Any] | None:
        row = self.t.positions.get(position_id)
        if row is None:
            return None
        row.update(values)
        if row["closed_at"] is not None:
            self.t.open.pop(position_id, None)
            self.t.closed.setdefault(row["trader_id"], {})[position_id] = row
        return dict(row)

    async def open_positions_on(self, symbol: str) -> list[dict[str, Any]]:
        rows = (r for r in self.t.open.values() if r["symbol"] == symbol)
        return [dict(r) for r in sorted(rows, key=lambda r: r["position_id"])]

    async def performance(self, trader_id: str, until: datetime, last: int = 10) -> Performance:
        rows = sorted(
            (r for r in self.t.closed.get(trader_id, {}).values() if r["closed_at"] <= until),
            key=lambda r: (r["closed_at"], r["position_id"]), reverse=True)
        return summarize((r["realized_pnl"], r["pnl_pct"]) for r in rows[:last])

    # --- settings ---------------------------------------------------------------------------
    async def put_settings(self, trader_id: str, settings: TraderSettings, at: datetime) -> None:
        self.t.settings[trader_id] = settings

    # --- decisions and model calls ----------------------------------------------------------
    async def add_decision(self, values: dict[str, Any], documents: DecisionDocuments) -> bool:
        if values["decision_id"] in self.t.decisions:
            return False
        self.t.decisions[values["decision_id"]] = {**values, "documents": documents}
        return True

    async def add_opened_position(self, values: dict[str, Any],
                                  decision_id: str | None) -> dict[str, Any] | None:
        return await self.add_position({**values,
                                        "timeframe": await self.decision_timeframe(decision_id)})

    async def decision_timeframe(self, decision_id: str | None) -> str | None:
        row = self.t.decisions.get(decision_id) if decision_id is not None else None
        return row["timeframe"] if row else None

    async def decided(self, decision_id: str) -> bool:
        return decision_id in self.t.decisions or decision_id in self.t.llm_usage

    async def llm_calls_on(self, trader_id: str, day_start: datetime) -> int:
        end = day_start + timedelta(days=1)
        decided = sum(int(r["model_calls"] or 0) for r in self.t.decisions.values()
                      if r["trader_id"] == trader_id and day_start <= r["occurred_at"] < end)
        return decided + sum(calls for trader, at, calls in self.t.llm_usage.values()
                             if trader == trader_id and day_start <= at < end)

    async def add_llm_usage(self, decision_id: str, trader_id: str, occurred_at: datetime,
                            model_calls: int) -> None:
        self.t.llm_usage.setdefault(decision_id, (trader_id, occurred_at, model_calls))

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        self.t.model_calls.extend(rows)

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        return [SimpleNamespace(**r) for r in self.t.model_calls if r["prompt_hash"] == prompt_hash]

    async def prompts_asked(self, decision_id: str) -> int:
        return len({r["prompt_hash"] for r in self.t.model_calls
                    if r["decision_id"] == decision_id})
