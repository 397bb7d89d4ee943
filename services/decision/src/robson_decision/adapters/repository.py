"""Reads and writes of the decision schema in the unit of work's transaction.

The hot paths (market data, bars, decisions, the positions projection) run on the transaction's
asyncpg connection (``driver_connection``): SQLAlchemy's statement machinery cost ~100 µs of CPU
per statement on the development machine, more than the round trip. The rest are SQLAlchemy
Core statements built once, run with ``uow.execute``. Each write of market data is one round
trip (insert + trim in one statement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import asyncpg
from robson_contracts import Candle, MarketContext, TradeDecision
from robson_kit.uow import UnitOfWork, driver_connection
from sqlalchemy import bindparam, distinct, func, select
from sqlalchemy.dialects.postgresql import insert

from robson_decision.adapters.memory import summarize
from robson_decision.adapters.tables import (
    decisions,
    llm_usage,
    model_calls,
    positions,
    trader_settings,
)
from robson_decision.domain.context import Bar, DecisionContext, Performance
from robson_decision.domain.prompts import context_document
from robson_decision.domain.proposal import Proposal
from robson_decision.domain.settings import TraderSettings

ADD_CANDLE = (
    "WITH added AS (INSERT INTO candles (symbol, timeframe, open_time, open, high, low, close,"
    " volume) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING)"
    " DELETE FROM candles WHERE symbol = $1 AND timeframe = $2 AND open_time < $9"
)
ADD_MARKET_CONTEXT = (
    "WITH added AS (INSERT INTO market_contexts (symbol, occurred_at, funding_rate, mark_price,"
    " index_price) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING)"
    " DELETE FROM market_contexts WHERE symbol = $1 AND occurred_at < $6"
)
BARS = (
    "SELECT open_time, open, high, low, close, volume FROM candles WHERE symbol = $1"
    " AND timeframe = $2 AND open_time <= $3 ORDER BY open_time DESC LIMIT $4"
)
OPEN_ON_SYMBOL = (
    select(positions)
    .where(positions.c.symbol == bindparam("symbol"), positions.c.closed_at.is_(None))
    .order_by(positions.c.position_id)
)
PERFORMANCE = (
    select(positions.c.realized_pnl, positions.c.pnl_pct)
    .where(
        positions.c.trader_id == bindparam("trader_id"),
        positions.c.closed_at.is_not(None),
        positions.c.closed_at <= bindparam("until"),
    )
    .order_by(positions.c.closed_at.desc(), positions.c.position_id.desc())
    .limit(bindparam("last"))
)
DECISION_TIMEFRAME = select(decisions.c.timeframe).where(
    decisions.c.decision_id == bindparam("decision_id")
)
DECIDED = select(
    select(decisions.c.decision_id).where(decisions.c.decision_id == bindparam("decision_id"))
    .exists()
    | select(llm_usage.c.decision_id).where(llm_usage.c.decision_id == bindparam("decision_id"))
    .exists()
)
"""The decision is stored, or a review that stored none recorded its calls."""
_DECIDED_CALLS = select(func.coalesce(func.sum(decisions.c.model_calls), 0)).where(
    decisions.c.trader_id == bindparam("trader_id"),
    decisions.c.occurred_at >= bindparam("start"),
    decisions.c.occurred_at < bindparam("end"),
).scalar_subquery()
_REVIEW_CALLS = select(func.coalesce(func.sum(llm_usage.c.model_calls), 0)).where(
    llm_usage.c.trader_id == bindparam("trader_id"),
    llm_usage.c.occurred_at >= bindparam("start"),
    llm_usage.c.occurred_at < bindparam("end"),
).scalar_subquery()
LLM_CALLS_ON = select(_DECIDED_CALLS + _REVIEW_CALLS)
"""The day's model calls: those of stored decisions and those of reviews that stored none."""
PROMPTS_ASKED = select(func.count(distinct(model_calls.c.prompt_hash))).where(
    model_calls.c.decision_id == bindparam("decision_id"))
"""The prompts a decision's model was asked (each a paid call, whatever its attempts)."""
RECORDED_CALLS = (
    select(model_calls)
    .where(model_calls.c.prompt_hash == bindparam("prompt_hash"))
    .order_by(model_calls.c.call_id)
)


# JSONB values travel as JSON text, as SQLAlchemy sends them (``json.dumps``, so None is JSON
# null); rows come back as dicts, JSONB parsed (the dialect's codec on the connection).
_JSONB = frozenset({"violations", "proposal", "context", "take_profits"})
_COLUMNS = {"positions": frozenset(positions.c.keys()),
            "decisions": frozenset(decisions.c.keys())}


@dataclass(frozen=True)
class DecisionDocuments:
    """What a decision row stores as documents, serialized only where they are written (the
    one-process backtest keeps the objects)."""

    decision: TradeDecision
    proposal: Proposal | None
    context: DecisionContext

    def as_json(self) -> tuple[str, str, str]:
        """The ``proposal``, ``context`` and ``payload`` columns as JSON text."""
        proposal = self.proposal.model_dump_json() if self.proposal is not None else "null"
        return proposal, json.dumps(context_document(self.context)), self.decision.model_dump_json()


_DOCUMENT_COLUMNS = ("proposal", "context", "payload")


def _arg(column: str, value: Any) -> Any:
    return json.dumps(value) if column in _JSONB else value


def _checked(table: str, columns: tuple[str, ...]) -> None:
    unknown = set(columns) - _COLUMNS[table]
    if unknown:
        raise ValueError(f"not columns of {table}: {sorted(unknown)}")


@cache
def _insert_sql(table: str, columns: tuple[str, ...], conflict: str, returning: str,
                timeframe_of_decision: bool = False) -> str:
    """Built (and its columns checked) once per column set."""
    _checked(table, columns)
    values = [f"${i}" for i in range(1, len(columns) + 1)]
    names = [f'"{c}"' for c in columns]  # quoted: "trailing" is a keyword
    if timeframe_of_decision:  # the timeframe of the decision that opened it, in one statement
        names.append("timeframe")
        values.append(f"(SELECT timeframe FROM decisions WHERE decision_id = ${len(columns) + 1})")
    return (f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT {conflict}DO NOTHING RETURNING {returning}")


@cache
def _update_position_sql(columns: tuple[str, ...]) -> str:
    _checked("positions", columns)
    sets = ", ".join(f'"{c}" = ${i}' for i, c in enumerate(columns, start=2))
    return f"UPDATE positions SET {sets} WHERE position_id = $1 RETURNING *"


class Repository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _driver(self) -> asyncpg.Connection:
        return await driver_connection(self.uow.session)

    # --- market data ------------------------------------------------------------------------

    async def add_candle(self, c: Candle, horizon: datetime) -> None:
        await (await self._driver()).execute(
            ADD_CANDLE, c.symbol, c.timeframe.value, c.open_time, c.open, c.high, c.low, c.close,
            c.volume, horizon)

    async def bars(
        self, symbol: str, timeframe: str, until: datetime, limit: int
    ) -> tuple[Bar, ...]:
        rows = await (await self._driver()).fetch(BARS, symbol, timeframe, until, limit)
        return tuple(Bar(*r) for r in reversed(rows))

    async def add_market_context(self, m: MarketContext, horizon: datetime) -> None:
        await (await self._driver()).execute(
            ADD_MARKET_CONTEXT, m.symbol, m.occurred_at, m.funding_rate, m.mark_price,
            m.index_price, horizon)

    # --- positions --------------------------------------------------------------------------

    async def _insert_position(self, values: dict[str, Any], *extra: Any,
                               timeframe_of_decision: bool = False) -> dict[str, Any] | None:
        columns = tuple(values)
        sql = _insert_sql("positions", columns, "(position_id) ", "*", timeframe_of_decision)
        row = await (await self._driver()).fetchrow(
            sql, *(_arg(c, values[c]) for c in columns), *extra)
        return dict(row) if row is not None else None

    async def add_position(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The new row; None when the position was already known."""
        return await self._insert_position(values)

    async def add_opened_position(self, values: dict[str, Any],
                                  decision_id: str | None) -> dict[str, Any] | None:
        """``add_position`` with the timeframe of ``decision_id`` (None when unknown), looked up
        by the insert itself."""
        return await self._insert_position(values, decision_id, timeframe_of_decision=True)

    async def update_position(self, position_id: str, **values: Any) -> dict[str, Any] | None:
        """The row as updated (None: unknown position)."""
        columns = tuple(values)
        row = await (await self._driver()).fetchrow(
            _update_position_sql(columns), position_id, *(_arg(c, values[c]) for c in columns))
        return dict(row) if row is not None else None

    async def open_positions_on(self, symbol: str) -> list[dict[str, Any]]:
        rows = await self.uow.execute(OPEN_ON_SYMBOL, {"symbol": symbol})
        return [dict(r._mapping) for r in rows]

    async def performance(self, trader_id: str, until: datetime, last: int = 10) -> Performance:
        rows = await self.uow.execute(
            PERFORMANCE, {"trader_id": trader_id, "until": until, "last": last}
        )
        return summarize((r.realized_pnl, r.pnl_pct) for r in rows)

    # --- settings ---------------------------------------------------------------------------

    async def put_settings(self, trader_id: str, settings: TraderSettings, at: datetime) -> None:
        doc = json.loads(settings.model_dump_json())
        await self.uow.execute(
            insert(trader_settings)
            .values(trader_id=trader_id, settings=doc, updated_at=at)
            .on_conflict_do_update(
                index_elements=["trader_id"], set_={"settings": doc, "updated_at": at}
            )
        )

    # --- decisions and model calls ----------------------------------------------------------

    async def add_decision(self, values: dict[str, Any], documents: DecisionDocuments) -> bool:
        columns = (*values, *_DOCUMENT_COLUMNS)
        sql = _insert_sql("decisions", columns, "", "decision_id")
        args = [*(_arg(c, values[c]) for c in values), *documents.as_json()]
        return await (await self._driver()).fetchval(sql, *args) is not None

    async def decision_timeframe(self, decision_id: str | None) -> str | None:
        if decision_id is None:
            return None
        row = (await self.uow.execute(DECISION_TIMEFRAME, {"decision_id": decision_id})).first()
        return row.timeframe if row else None

    async def decided(self, decision_id: str) -> bool:
        return bool((await self.uow.execute(DECIDED, {"decision_id": decision_id})).scalar_one())

    async def llm_calls_on(self, trader_id: str, day_start: datetime) -> int:
        params = {"trader_id": trader_id, "start": day_start, "end": day_start + timedelta(days=1)}
        return int((await self.uow.execute(LLM_CALLS_ON, params)).scalar_one())

    async def add_llm_usage(self, decision_id: str, trader_id: str, occurred_at: datetime,
                            model_calls: int) -> None:
        """Calls a review paid for without storing a decision (once per review)."""
        await self.uow.execute(
            insert(llm_usage).values(decision_id=decision_id, trader_id=trader_id,
                                     occurred_at=occurred_at, model_calls=model_calls)
            .on_conflict_do_nothing(index_elements=["decision_id"]))

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        """Committed at once in a short transaction of its own, not the unit of work's: a model
        call is paid whether or not the batch that asked commits, so a rolled-back batch keeps
        the record and its retry reuses the answer instead of paying again."""
        if not rows:
            return
        engine = self.uow.session.bind
        async with engine.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(insert(model_calls), rows)

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        return list((await self.uow.execute(RECORDED_CALLS, {"prompt_hash": prompt_hash})).all())

    async def prompts_asked(self, decision_id: str) -> int:
        return int((await self.uow.execute(PROMPTS_ASKED, {"decision_id": decision_id}))
                   .scalar_one())
