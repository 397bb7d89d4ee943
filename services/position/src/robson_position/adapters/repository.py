"""Persistence of positions (optimistic concurrency on ``version``), fills, audit and settings."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

import asyncpg
from robson_contracts import PositionStatus
from robson_kit.db import plain_row
from robson_kit.errors import ConflictError
from robson_kit.rawtx import send_with_commit, typed_row
from robson_kit.uow import driver_connection
from sqlalchemy import Select, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_position.adapters.tables import accounts, fills, modifications, positions, traders
from robson_position.domain.policy import (
    DEFAULT_ACCOUNT,
    DEFAULT_POLICY,
    AccountSettings,
    ManagementPolicy,
)
from robson_position.domain.position import Position
from robson_position.domain.state import PositionState

ACTIVE = [s.value for s in (PositionStatus.PENDING_ENTRY, PositionStatus.OPEN,
                            PositionStatus.PARTIALLY_CLOSED, PositionStatus.CLOSING)]


# Hot-path statements go straight to the transaction's asyncpg connection (the kit's
# ``driver_connection``): SQLAlchemy's statement machinery cost ~100 µs of CPU per statement on
# the development machine, more than the round trip itself. asyncpg prepares each once per
# connection. The state travels as JSON text (no dict round trip).
_ADD = (
    "INSERT INTO positions (position_id, account_id, trader_id, symbol, side, status, version, "
    "realized_pnl, created_at, opened_at, closed_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, "
    "$8, $9, $10, $11, CAST($12 AS jsonb)) ON CONFLICT (position_id) DO NOTHING RETURNING position_id")
_SAVE = (
    "UPDATE positions SET status = $2, version = $3, realized_pnl = $4, opened_at = $5, "
    "closed_at = $6, state = CAST($7 AS jsonb) WHERE position_id = $1 AND version = $8")
_SAVE_MARKS = (
    "UPDATE positions AS p SET version = m.version + 1, state = CAST(m.state AS jsonb) "
    "FROM unnest($1::varchar[], $2::integer[], $3::text[]) AS m(position_id, version, state) "
    "WHERE p.position_id = m.position_id AND p.version = m.version RETURNING p.position_id")
_STATE = "SELECT state::text AS state FROM positions"
_GET = f"{_STATE} WHERE position_id = $1"
_GET_MANY = f"{_STATE} WHERE position_id = ANY($1::varchar[])"
_ACTIVE_ON = f"{_STATE} WHERE symbol = $1 AND status = ANY($2::varchar[]) ORDER BY created_at"
_HOLDS = ("SELECT EXISTS (SELECT 1 FROM positions WHERE trader_id = $1 AND symbol = $2 "
          "AND side = $3 AND status = ANY($4::varchar[]))")
_RECORD_FILL = (
    "INSERT INTO fills (fill_id, position_id, order_id, kind, price, quantity, fee, filled_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id")
_LOG_FILL = (
    "INSERT INTO fills (fill_id, position_id, order_id, kind, price, quantity, fee, filled_at) "
    "VALUES {} ON CONFLICT (fill_id) DO NOTHING")
_FILL_TYPES = ("varchar", "varchar", "varchar", "varchar", "numeric", "numeric", "numeric",
               "timestamptz")


def _fill_values(position_id: str, order_id: str, kind: str, fill: Any) -> tuple[object, ...]:
    return (fill.fill_id, position_id, order_id, kind, fill.price, fill.quantity, fill.fee,
            fill.filled_at)


@cache
def _active_sql(by_account: bool, by_symbol: bool) -> str:
    """``active``'s statement: the active statuses, then the filters given, in that order."""
    where = ["status = ANY($1::varchar[])"]
    for column, given in (("account_id", by_account), ("symbol", by_symbol)):
        if given:
            where.append(f"{column} = ${len(where) + 1}")
    return f"{_STATE} WHERE {' AND '.join(where)} ORDER BY created_at"


def _row(state: PositionState) -> tuple[Any, ...]:
    """``_ADD``'s parameters."""
    return (state.position_id, state.account_id, state.trader_id, state.symbol, state.side.value,
            state.status.value, state.version, state.realized_pnl, state.created_at,
            state.opened_at, state.closed_at, state.model_dump_json())


def _changes(state: PositionState) -> tuple[Any, ...]:
    """``_SAVE``'s parameters but the version read."""
    return (state.position_id, state.status.value, state.version, state.realized_pnl,
            state.opened_at, state.closed_at, state.model_dump_json())


def _positions(rows: list[Any]) -> list[Position]:
    return [Position(PositionState.model_validate_json(r["state"])) for r in rows]


class Positions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _driver(self) -> asyncpg.Connection:
        return await driver_connection(self.session)

    async def add(self, position: Position) -> bool:
        """Insert a new position; False (nothing written) if its id exists already."""
        position.s.version = 1
        return await (await self._driver()).fetchval(_ADD, *_row(position.s)) is not None

    async def get(self, position_id: str) -> Position | None:
        state = await (await self._driver()).fetchval(_GET, position_id)
        return Position(PositionState.model_validate_json(state)) if state is not None else None

    async def get_many(self, position_ids: list[str]) -> list[Position]:
        """The positions of these ids that exist, in one statement (in no particular order)."""
        return _positions(await (await self._driver()).fetch(_GET_MANY, position_ids))

    async def save(self, position: Position) -> None:
        """Write if nobody else did since we read; else ConflictError (the caller retries)."""
        read_version = position.s.version
        position.s.version = read_version + 1
        status = await (await self._driver()).execute(_SAVE, *_changes(position.s), read_version)
        if status != "UPDATE 1":
            position.s.version = read_version
            raise ConflictError(f"position {position.s.position_id} changed since version {read_version}")

    async def find(self, stmt: Select[Any]) -> list[Position]:
        rows = (await self.session.execute(stmt)).all()
        return [Position(PositionState.model_validate(r.state)) for r in rows]

    async def save_marks(self, batch: list[Position]) -> None:
        """``save`` for many positions in one statement, when only marks changed (status,
        P&L and dates did not). All or nothing: ConflictError if any was changed meanwhile."""
        if not batch:
            return
        ids, versions = [p.s.position_id for p in batch], [p.s.version for p in batch]
        for p in batch:
            p.s.version += 1
        states = [p.s.model_dump_json() for p in batch]
        written = await (await self._driver()).fetch(_SAVE_MARKS, ids, versions, states)
        if len(written) != len(batch):
            for p in batch:
                p.s.version -= 1
            raise ConflictError(f"{len(batch) - len(written)} of {len(batch)} positions changed meanwhile")

    async def active_on(self, symbol: str) -> list[Position]:
        return _positions(await (await self._driver()).fetch(_ACTIVE_ON, symbol, ACTIVE))

    async def holds(self, trader_id: str, symbol: str, side: str) -> bool:
        """An active position of this trader on this symbol and side exists."""
        return bool(await (await self._driver()).fetchval(_HOLDS, trader_id, symbol, side, ACTIVE))

    async def active(self, account_id: str | None = None, symbol: str | None = None) -> list[Position]:
        args = [a for a in (account_id, symbol) if a is not None]
        statement = _active_sql(account_id is not None, symbol is not None)
        return _positions(await (await self._driver()).fetch(statement, ACTIVE, *args))

    async def query(self, *, account_id: str | None = None, trader_id: str | None = None,
                    symbol: str | None = None, status: str | None = None, limit: int = 500
                    ) -> list[Position]:
        stmt = select(positions.c.state)
        if account_id:
            stmt = stmt.where(positions.c.account_id == account_id)
        if trader_id:
            stmt = stmt.where(positions.c.trader_id == trader_id)
        if symbol:
            stmt = stmt.where(positions.c.symbol == symbol)
        if status == "open":
            stmt = stmt.where(positions.c.status.in_(ACTIVE))
        elif status == "closed":
            stmt = stmt.where(positions.c.status.notin_(ACTIVE))
        elif status:
            stmt = stmt.where(positions.c.status == status.upper())
        return await self.find(stmt.order_by(positions.c.created_at.desc()).limit(limit))

    async def record_fill(self, position_id: str, order_id: str, kind: str, fill: Any) -> bool:
        """Insert the fill's row; False (nothing written) when it was recorded before."""
        return await (await self._driver()).fetchval(
            _RECORD_FILL, *_fill_values(position_id, order_id, kind, fill)) is not None

    async def log_fill(self, position_id: str, order_id: str, kind: str, fill: Any) -> None:
        """``record_fill`` for a caller that knows the fill is new to the position (its
        ``fill_ids``, version-checked when the position is saved): nobody reads the answer, so
        the row goes with the COMMIT when the kit owns the transaction (a round trip fewer on
        an entry's way to PositionOpened). A row a re-sync wrote meanwhile is left as it is."""
        values = _fill_values(position_id, order_id, kind, fill)
        if send_with_commit(self.session, lambda: _LOG_FILL.format(typed_row(values, _FILL_TYPES))):
            return
        await (await self._driver()).execute(_RECORD_FILL, *values)

    async def fill_count(self, position_id: str) -> int:
        rows = (await self.session.execute(select(fills.c.fill_id).where(fills.c.position_id == position_id)))
        return len(rows.all())


class Audit:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, *, position_id: str, message_id: str, at: datetime, triggered_by: str,
                     kind: str, request: dict[str, Any], verdict: str, violations: list[dict[str, Any]],
                     reason: str = "", outcome: str = "") -> None:
        await self.session.execute(insert(modifications).values(
            position_id=position_id, message_id=message_id, requested_at=at, triggered_by=triggered_by,
            kind=kind, request=request, verdict=verdict, violations=violations, reason=reason,
            outcome=outcome))

    async def history(self, position_id: str) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(modifications).where(modifications.c.position_id == position_id)
            .order_by(modifications.c.id))
        return [plain_row(r._mapping) for r in rows]


_TRADER = "SELECT paused, policy::text AS policy FROM traders WHERE trader_id = $1"
_ACCOUNT = "SELECT settings::text FROM accounts WHERE account_id = $1"
_TRADER_ACCOUNT = text(
    "SELECT account_id, 0 AS source FROM traders WHERE trader_id = :trader_id "
    "AND account_id IS NOT NULL "
    "UNION ALL (SELECT account_id, 1 FROM positions WHERE trader_id = :trader_id "
    "ORDER BY created_at DESC LIMIT 1) ORDER BY source LIMIT 1")


class Settings:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def trader(self, trader_id: str) -> tuple[bool, ManagementPolicy]:
        """(paused, policy) in one read."""
        row = await (await driver_connection(self.session)).fetchrow(_TRADER, trader_id)
        if row is None:
            return False, DEFAULT_POLICY
        stored = row["policy"]
        policy = ManagementPolicy.model_validate_json(stored) if stored != "{}" else DEFAULT_POLICY
        return bool(row["paused"]), policy

    async def policy(self, trader_id: str) -> ManagementPolicy:
        row = (await self.session.execute(select(traders.c.policy).where(traders.c.trader_id == trader_id))).first()
        return ManagementPolicy.model_validate(row.policy) if row and row.policy else DEFAULT_POLICY

    async def put_policy(self, trader_id: str, policy: ManagementPolicy,
                         account_id: str | None = None) -> None:
        body = json.loads(policy.model_dump_json())
        changes: dict[str, Any] = {"policy": body}
        if account_id is not None:
            changes["account_id"] = account_id
        await self.session.execute(pg_insert(traders).values(trader_id=trader_id, **changes)
                                   .on_conflict_do_update(index_elements=["trader_id"],
                                                          set_=changes))

    async def paused(self, trader_id: str) -> bool:
        row = (await self.session.execute(select(traders.c.paused).where(traders.c.trader_id == trader_id))).first()
        return bool(row and row.paused)

    async def set_paused(self, trader_id: str, account_id: str, paused: bool, reason: str) -> bool:
        """True when the flag changed."""
        before = await self.paused(trader_id)
        await self.session.execute(pg_insert(traders).values(
            trader_id=trader_id, account_id=account_id, paused=paused, pause_reason=reason)
            .on_conflict_do_update(index_elements=["trader_id"],
                                   set_={"paused": paused, "pause_reason": reason, "account_id": account_id}))
        return before != paused

    async def trader_account(self, trader_id: str) -> str | None:
        """The account a trader belongs to, as far as position knows: its settings row (set by
        a pause), else its latest position; None for a trader never seen."""
        row = (await self.session.execute(_TRADER_ACCOUNT, {"trader_id": trader_id})).first()
        return row.account_id if row else None

    async def account(self, account_id: str) -> AccountSettings:
        settings = await (await driver_connection(self.session)).fetchval(_ACCOUNT, account_id)
        return AccountSettings.model_validate_json(settings) if settings is not None else DEFAULT_ACCOUNT

    async def put_account(self, account_id: str, settings: AccountSettings) -> None:
        body = json.loads(settings.model_dump_json())
        await self.session.execute(pg_insert(accounts).values(account_id=account_id, settings=body)
                                   .on_conflict_do_update(index_elements=["account_id"], set_={"settings": body}))


# --- the repository port: Postgres, or the in-memory tables a memory session carries ---------

def positions_of(session: Any) -> Positions:
    memory = getattr(session, "memory", None)
    return Positions(session) if memory is None else memory.positions_repository()


def settings_of(session: Any) -> Settings:
    memory = getattr(session, "memory", None)
    return Settings(session) if memory is None else memory.settings_repository()


def audit_of(session: Any) -> Audit:
    memory = getattr(session, "memory", None)
    return Audit(session) if memory is None else memory.audit_repository()
