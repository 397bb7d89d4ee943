"""Persistence of positions (optimistic concurrency on ``version``), fills, audit and settings."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from robson_contracts import PositionStatus
from robson_kit.errors import ConflictError
from sqlalchemy import Select, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

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


# Hot-path statements, built once: the state travels as JSON text (no dict round trip).
_ADD = text(
    "INSERT INTO positions (position_id, account_id, trader_id, symbol, side, status, version, "
    "realized_pnl, created_at, opened_at, closed_at, state) VALUES (:position_id, :account_id, "
    ":trader_id, :symbol, :side, :status, :version, :realized_pnl, :created_at, :opened_at, "
    ":closed_at, CAST(:state AS jsonb)) ON CONFLICT (position_id) DO NOTHING RETURNING position_id")
_SAVE = text(
    "UPDATE positions SET status = :status, version = :version, realized_pnl = :realized_pnl, "
    "opened_at = :opened_at, closed_at = :closed_at, state = CAST(:state AS jsonb) "
    "WHERE position_id = :position_id AND version = :read_version")
_SAVE_MARKS = text(
    "UPDATE positions AS p SET version = m.version + 1, state = CAST(m.state AS jsonb) "
    "FROM unnest(CAST(:ids AS varchar[]), CAST(:versions AS integer[]), CAST(:states AS text[])) "
    "AS m(position_id, version, state) "
    "WHERE p.position_id = m.position_id AND p.version = m.version RETURNING p.position_id")
_GET = text("SELECT state::text AS state FROM positions WHERE position_id = :position_id")
_ACTIVE_ON = text("SELECT state::text AS state FROM positions WHERE symbol = :symbol "
                  "AND status = ANY(:active) ORDER BY created_at")
_HOLDS = text("SELECT EXISTS (SELECT 1 FROM positions WHERE trader_id = :trader_id "
              "AND symbol = :symbol AND side = :side AND status = ANY(:active))")
_RECORD_FILL = text(
    "INSERT INTO fills (fill_id, position_id, order_id, kind, price, quantity, fee, filled_at) "
    "VALUES (:fill_id, :position_id, :order_id, :kind, :price, :quantity, :fee, :filled_at) "
    "ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id")


def _row(state: PositionState) -> dict[str, Any]:
    return {
        "position_id": state.position_id, "account_id": state.account_id,
        "trader_id": state.trader_id, "symbol": state.symbol, "side": state.side.value,
        "status": state.status.value, "version": state.version,
        "realized_pnl": state.realized_pnl, "created_at": state.created_at,
        "opened_at": state.opened_at, "closed_at": state.closed_at,
        "state": state.model_dump_json(),
    }


class Positions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _run(self, statement: Executable, params: dict[str, Any]) -> Result[Any]:
        return await (await self.session.connection()).execute(statement, params)

    async def add(self, position: Position) -> bool:
        """Insert a new position; False (nothing written) if its id exists already."""
        position.s.version = 1
        return (await self._run(_ADD, _row(position.s))).first() is not None

    async def get(self, position_id: str) -> Position | None:
        row = (await self._run(_GET, {"position_id": position_id})).first()
        return Position(PositionState.model_validate_json(row.state)) if row else None

    async def save(self, position: Position) -> None:
        """Write if nobody else did since we read; else ConflictError (the caller retries)."""
        read_version = position.s.version
        position.s.version = read_version + 1
        result = await self._run(_SAVE, {**_row(position.s), "read_version": read_version})
        if result.rowcount != 1:
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
        params = {"ids": [p.s.position_id for p in batch], "versions": [p.s.version for p in batch]}
        for p in batch:
            p.s.version += 1
        params["states"] = [p.s.model_dump_json() for p in batch]
        written = (await self._run(_SAVE_MARKS, params)).all()
        if len(written) != len(batch):
            for p in batch:
                p.s.version -= 1
            raise ConflictError(f"{len(batch) - len(written)} of {len(batch)} positions changed meanwhile")

    async def active_on(self, symbol: str) -> list[Position]:
        rows = (await self._run(_ACTIVE_ON, {"symbol": symbol, "active": ACTIVE})).all()
        return [Position(PositionState.model_validate_json(r.state)) for r in rows]

    async def holds(self, trader_id: str, symbol: str, side: str) -> bool:
        """An active position of this trader on this symbol and side exists."""
        params = {"trader_id": trader_id, "symbol": symbol, "side": side, "active": ACTIVE}
        return bool((await self._run(_HOLDS, params)).scalar())

    async def active(self, account_id: str | None = None, symbol: str | None = None) -> list[Position]:
        stmt = select(positions.c.state).where(positions.c.status.in_(ACTIVE))
        if account_id is not None:
            stmt = stmt.where(positions.c.account_id == account_id)
        if symbol is not None:
            stmt = stmt.where(positions.c.symbol == symbol)
        return await self.find(stmt.order_by(positions.c.created_at))

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
        params = {"fill_id": fill.fill_id, "position_id": position_id, "order_id": order_id,
                  "kind": kind, "price": fill.price, "quantity": fill.quantity, "fee": fill.fee,
                  "filled_at": fill.filled_at}
        return (await self._run(_RECORD_FILL, params)).first() is not None

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
        return [dict(r._mapping) for r in rows]


_TRADER = text("SELECT paused, policy::text AS policy FROM traders WHERE trader_id = :trader_id")
_ACCOUNT = text("SELECT settings::text AS settings FROM accounts WHERE account_id = :account_id")
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
        row = (await self.session.execute(_TRADER, {"trader_id": trader_id})).first()
        if row is None:
            return False, DEFAULT_POLICY
        policy = ManagementPolicy.model_validate_json(row.policy) if row.policy != "{}" else DEFAULT_POLICY
        return bool(row.paused), policy

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
        row = (await self.session.execute(_ACCOUNT, {"account_id": account_id})).first()
        return AccountSettings.model_validate_json(row.settings) if row else DEFAULT_ACCOUNT

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
