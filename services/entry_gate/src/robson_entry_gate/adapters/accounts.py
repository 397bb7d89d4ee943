"""Account projections in Postgres with a write-through in-memory cache.

A handler ``lock``s an account (``SELECT … FOR UPDATE``: one writer per account, across tasks
and processes), mutates it, and ``save``s it in the same transaction. The cache is replaced
only after commit; while a writer holds an account its cache entry is marked dirty, so a
rolled-back change can never leak into later reads.

A consumer runs a fetched batch in one transaction: the first ``lock`` of an account in it
takes the row lock and the state, later ones get the same in-memory state back, and ``save``
writes the document once, just before commit (version + 1 per transaction, not per event).
"""

from __future__ import annotations

from collections.abc import Iterable

from robson_kit.uow import UnitOfWork
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import account_state
from robson_entry_gate.domain.state import AccountState

# Core statements compiled once (the hot path runs them for every decision and event).
CREATE = text("INSERT INTO account_state (account_id, version, state) VALUES (:a, 0, :s) "
              "ON CONFLICT (account_id) DO NOTHING")
LOCK_VERSION = text("SELECT version FROM account_state WHERE account_id = :a FOR UPDATE")
READ_STATE = text("SELECT version, state FROM account_state WHERE account_id = :a")
SAVE = text("UPDATE account_state SET version = :v, state = :s WHERE account_id = :a")
_HELD = "entry_gate.accounts_held"
"""``session.info`` key: the accounts this transaction has locked, as (state, locked version)."""


class AccountStore:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, AccountState]] = {}
        self._dirty: set[str] = set()
        self._by_symbol: dict[str, set[str]] = {}
        """Accounts holding an open position in each symbol (from the committed cache)."""
        self._symbols_of: dict[str, set[str]] = {}

    async def load_all(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(account_state))).all()
        self._cache = {r.account_id: (r.version, AccountState.model_validate_json(r.state))
                       for r in rows}
        self._dirty.clear()
        self._by_symbol, self._symbols_of = {}, {}
        for _, state in self._cache.values():
            self._index(state)

    async def lock(self, session: AsyncSession, account_id: str) -> tuple[AccountState, int]:
        held = session.info.setdefault(_HELD, {})
        if account_id in held:
            return held[account_id]
        held[account_id] = locked = await self._lock(session, account_id)
        return locked

    async def _lock(self, session: AsyncSession, account_id: str) -> tuple[AccountState, int]:
        conn = await session.connection()
        version = (await conn.execute(LOCK_VERSION, {"a": account_id})).scalar()
        if version is None:
            await conn.execute(CREATE, {"a": account_id,
                                        "s": AccountState(account_id=account_id).model_dump_json()})
            version = (await conn.execute(LOCK_VERSION, {"a": account_id})).scalar_one()
        cached = self._cache.get(account_id)
        trusted = cached is not None and cached[0] == version and account_id not in self._dirty
        self._dirty.add(account_id)  # until a commit publishes, the in-memory copy is suspect
        if trusted:
            return cached[1], version
        row = (await conn.execute(READ_STATE, {"a": account_id})).one()
        return AccountState.model_validate_json(row.state), row.version

    async def save(self, uow: UnitOfWork, state: AccountState, version: int,
                   deferred: bool = True) -> None:
        """Persist ``state`` (as locked at ``version``) once, just before this transaction
        commits, whatever number of events changed it meanwhile. ``deferred=False`` writes now
        (for callers already running as a before-commit write)."""
        account_id = state.account_id

        async def write(u: UnitOfWork) -> None:
            await self._write_row(u, account_id, version + 1, state)

            def publish() -> None:
                self._cache[account_id] = (version + 1, state)
                self._index(state)
                self._dirty.discard(account_id)

            u.after_commit(publish)

        if deferred:
            uow.before_commit(("account", account_id), write)
        else:
            await write(uow)

    async def _write_row(self, uow: UnitOfWork, account_id: str, version: int,
                         state: AccountState) -> None:
        await uow.execute(SAVE, {"a": account_id, "v": version, "s": state.model_dump_json()})

    async def read(self, session: AsyncSession, account_id: str) -> AccountState:
        """For queries: the committed projection, never a writer's half-done copy."""
        cached = self._cache.get(account_id)
        if cached is not None and account_id not in self._dirty:
            return cached[1]
        row = (await session.execute(
            select(account_state.c.state).where(account_state.c.account_id == account_id)
        )).first()
        return AccountState.model_validate_json(row.state) if row else AccountState(
            account_id=account_id)

    def account_ids(self) -> list[str]:
        return list(self._cache)

    def holders(self, symbols: Iterable[str]) -> set[str]:
        """Accounts with an open position in any of ``symbols`` (committed projections)."""
        return set().union(*(self._by_symbol.get(s, ()) for s in symbols))

    def committed(self, account_ids: Iterable[str]) -> list[tuple[AccountState, int]]:
        """The committed projections and versions of those not locked by a writer now."""
        return [(self._cache[a][1], self._cache[a][0]) for a in sorted(account_ids)
                if a not in self._dirty and a in self._cache]

    def _index(self, state: AccountState) -> None:
        account_id, held = state.account_id, set(state.aggregates()[0])
        for symbol in self._symbols_of.get(account_id, set()) - held:
            self._by_symbol[symbol].discard(account_id)
        for symbol in held:
            self._by_symbol.setdefault(symbol, set()).add(account_id)
        self._symbols_of[account_id] = held
