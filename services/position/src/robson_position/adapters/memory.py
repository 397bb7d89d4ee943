"""position's repositories in memory, for the one-process backtest: the same reads and writes as
``repository.Positions`` / ``Settings`` / ``Audit`` (optimistic versions included), on dicts.

A handler gets them through ``repository.positions_of(session)`` & co.: a ``MemorySession``
(``info`` is the transaction's scratch space, as in SQLAlchemy) carries a ``PositionTables``.
Every read hands out a copy of a row's state (``_copy``): what a handler changes is not in the
table until it is saved, as with the ``state`` column, and a handler that fails leaves the table
as it was. A save keeps the handler's state itself, not another copy: no handler changes a
state after its last save in a transaction (the kit writes a batch's positions just before
commit; a command saves last), which ``libs/backtest/tests/test_position_rows.py`` checks after
every transaction of whole runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from robson_contracts import SymbolRules
from robson_contracts.trusted import trusted
from robson_kit.errors import ConflictError

from robson_position.adapters.repository import Audit, Positions, Settings
from robson_position.adapters.venue_rules import VenueRulesTable
from robson_position.domain.policy import (
    DEFAULT_ACCOUNT,
    DEFAULT_POLICY,
    AccountSettings,
    ManagementPolicy,
)
from robson_position.domain.position import Position
from robson_position.domain.state import ACTIVE_STATUSES, PositionState


@dataclass
class Row:
    state: PositionState
    version: int
    status: str
    symbol: str
    account_id: str
    trader_id: str
    side: str
    created_at: datetime


@dataclass
class PositionTables:
    positions: dict[str, Row] = field(default_factory=dict)
    active: dict[str, Row] = field(default_factory=dict)
    """The rows with an active status (an index: every candle reads them)."""
    fills: set[str] = field(default_factory=set)
    traders: dict[str, tuple[bool, ManagementPolicy]] = field(default_factory=dict)
    accounts: dict[str, AccountSettings] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    venue_rules: dict[tuple[str, str], SymbolRules] = field(default_factory=dict)
    _positions: MemoryPositions | None = field(default=None, init=False, repr=False,
                                               compare=False)

    def session(self) -> MemorySession:
        return MemorySession(self)

    def trader(self, trader_id: str) -> tuple[bool, ManagementPolicy]:
        """(paused, management policy) of a trader; the defaults when none was stored."""
        return self.traders.get(trader_id, (False, DEFAULT_POLICY))

    # The repositories ``repository.positions_of`` & co. hand out for a session carrying these
    # tables (the port's in-memory side, without an import per call).
    def positions_repository(self) -> Positions:
        if self._positions is None:  # one is enough: it holds nothing but the tables
            self._positions = MemoryPositions(self)
        return self._positions  # type: ignore[return-value]

    def settings_repository(self) -> Settings:
        return MemorySettings(self)  # type: ignore[return-value]

    def audit_repository(self) -> Audit:
        return MemoryAudit(self)  # type: ignore[return-value]

    def rules_repository(self) -> VenueRulesTable:
        return MemoryVenueRules(self)  # type: ignore[return-value]


class MemorySession:
    def __init__(self, tables: PositionTables) -> None:
        self.memory = tables
        self.info: dict[str, Any] = {}


def _copy(s: PositionState) -> PositionState:
    """A copy sharing nothing mutable with ``s``: its containers and the models in them are
    copied too (those models hold only immutable values). A fraction of a dump and a
    validation, with the same isolation."""
    c = _clone(s)
    fields = c.__dict__
    fields["closes"] = [_clone(close) for close in s.closes]
    fields["take_profits"] = [_clone(tp) for tp in s.take_profits]
    fields["orders"] = {order_id: _clone(order) for order_id, order in s.orders.items()}
    fields["fill_ids"] = list(s.fill_ids)
    return c


M = TypeVar("M", bound=BaseModel)


def _clone(model: M) -> M:
    """``copy(model)`` without its generic checks (these models have no extras or private
    attributes)."""
    return trusted(type(model), model.__dict__.copy(), model.__pydantic_fields_set__.copy())


def _row(s: PositionState) -> Row:
    """The row for a saved state: the state itself (see the module's docstring). Its status
    and side are the enums themselves: a ``StrEnum`` is its text (equal, same hash)."""
    return Row(s, s.version, s.status, s.symbol, s.account_id, s.trader_id, s.side,
               s.created_at)



def _state(row: Row) -> PositionState:
    return _copy(row.state)


class MemoryPositions:
    def __init__(self, tables: PositionTables) -> None:
        self.t = tables

    async def add(self, position: Position) -> bool:
        if position.s.position_id in self.t.positions:
            return False
        position.s.version = 1
        self._put(_row(position.s), position.s.position_id)
        return True

    def _put(self, row: Row, position_id: str) -> None:
        self.t.positions[position_id] = row
        if row.status in ACTIVE_STATUSES:
            self.t.active[position_id] = row
        else:
            self.t.active.pop(position_id, None)

    async def get(self, position_id: str) -> Position | None:
        row = self.t.positions.get(position_id)
        return Position(_state(row)) if row else None

    async def save(self, position: Position) -> None:
        pid, read_version = position.s.position_id, position.s.version
        row = self.t.positions.get(pid)
        if row is None or row.version != read_version:
            raise ConflictError(f"position {pid} changed since version {read_version}")
        position.s.version = read_version + 1
        self._put(_row(position.s), pid)

    async def save_marks(self, batch: list[Position]) -> None:
        stale = [p for p in batch if (r := self.t.positions.get(p.s.position_id)) is None
                 or r.version != p.s.version]
        if stale:
            raise ConflictError(f"{len(stale)} of {len(batch)} positions changed meanwhile")
        for p in batch:
            s = p.s
            s.version += 1
            self._put(_row(s), s.position_id)

    def _active(self, account_id: str | None = None, symbol: str | None = None) -> list[Row]:
        rows = [r for r in self.t.active.values()
                if (account_id is None or r.account_id == account_id)
                and (symbol is None or r.symbol == symbol)]
        return sorted(rows, key=lambda r: r.created_at)

    async def active_on(self, symbol: str) -> list[Position]:
        return [Position(_state(r))
                for r in self._active(symbol=symbol)]

    async def active(self, account_id: str | None = None, symbol: str | None = None) -> list[Position]:
        return [Position(_state(r))
                for r in self._active(account_id, symbol)]

    async def holds(self, trader_id: str, symbol: str, side: str) -> bool:
        return any(r.trader_id == trader_id and r.side == side for r in self._active(symbol=symbol))

    async def record_fill(self, position_id: str, order_id: str, kind: str, fill: Any) -> bool:
        if fill.fill_id in self.t.fills:
            return False
        self.t.fills.add(fill.fill_id)
        return True

    async def log_fill(self, position_id: str, order_id: str, kind: str, fill: Any) -> None:
        self.t.fills.add(fill.fill_id)


class MemoryAudit:
    def __init__(self, tables: PositionTables) -> None:
        self.t = tables

    async def record(self, **values: Any) -> None:
        self.t.audit.append(values)

    async def history(self, position_id: str) -> list[dict[str, Any]]:
        return [a for a in self.t.audit if a["position_id"] == position_id]


class MemorySettings:
    def __init__(self, tables: PositionTables) -> None:
        self.t = tables

    async def trader(self, trader_id: str) -> tuple[bool, ManagementPolicy]:
        return self.t.trader(trader_id)

    async def policy(self, trader_id: str) -> ManagementPolicy:
        return (await self.trader(trader_id))[1]

    async def put_policy(self, trader_id: str, policy: ManagementPolicy,
                         account_id: str | None = None) -> None:
        self.t.traders[trader_id] = ((await self.trader(trader_id))[0], policy)

    async def paused(self, trader_id: str) -> bool:
        return (await self.trader(trader_id))[0]

    async def set_paused(self, trader_id: str, account_id: str, paused: bool, reason: str) -> bool:
        before, policy = await self.trader(trader_id)
        self.t.traders[trader_id] = (paused, policy)
        return before != paused

    async def account(self, account_id: str) -> AccountSettings:
        return self.t.accounts.get(account_id, DEFAULT_ACCOUNT)

    async def put_account(self, account_id: str, settings: AccountSettings) -> None:
        self.t.accounts[account_id] = settings


class MemoryVenueRules:
    def __init__(self, tables: PositionTables) -> None:
        self.t = tables

    async def put(self, told: SymbolRules) -> bool:
        key = (told.venue.value, told.symbol)
        known = self.t.venue_rules.get(key)
        if known is not None and known.occurred_at > told.occurred_at:
            return False
        self.t.venue_rules[key] = told
        return True

    async def all(self) -> list[SymbolRules]:
        return list(self.t.venue_rules.values())
