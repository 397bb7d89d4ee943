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
from typing import TypeVar

import asyncpg
from robson_kit.rawtx import send_with_commit, text_literal
from robson_kit.uow import UnitOfWork, driver_connection
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import account_state
from robson_entry_gate.domain.state import AccountState

# The hot path runs these for every decision and event, on the transaction's asyncpg
# connection: through SQLAlchemy a statement cost ~165 µs of CPU, on the driver ~60 µs.
# ``state`` is a text column: it reads back as the JSON text it was written as.
CREATE = ("INSERT INTO account_state (account_id, version, state) VALUES ($1, 0, $2) "
          "ON CONFLICT (account_id) DO NOTHING")
LOCK_VERSION = "SELECT version FROM account_state WHERE account_id = $1 FOR UPDATE"
READ_STATE = "SELECT version, state FROM account_state WHERE account_id = $1"
SAVE = "UPDATE account_state SET version = $1, state = $2 WHERE account_id = $3"
LOCK_PROBING = ("WITH locked AS (SELECT version FROM account_state WHERE account_id = $1 FOR UPDATE) "
                "SELECT (SELECT version FROM locked) AS version, ({probe}) AS probe")
LOCK_MANY = ("SELECT account_id, version FROM account_state WHERE account_id = ANY($1::varchar[]) "
             "ORDER BY account_id FOR UPDATE")
READ_MANY = ("SELECT account_id, version, state FROM account_state "
             "WHERE account_id = ANY($1::varchar[])")
SAVE_MANY = (
    "UPDATE account_state AS t SET version = u.v, state = u.s FROM unnest("
    "$1::varchar[], $2::bigint[], $3::text[]) AS u(a, v, s) "
    "WHERE t.account_id = u.a")
_HELD = "entry_gate.accounts_held"
"""``session.info`` key: the accounts this transaction has locked, as (state, locked version)."""
_AHEAD = "entry_gate.accounts_locked_ahead"
"""``session.info`` key: accounts ``lock_many`` locked, not yet handed out by ``lock``."""
_SAVING = "entry_gate.accounts_saving"
"""``session.info`` key: the accounts to write before commit, as (state, locked version)."""


_T = TypeVar("_T")


def _one(value: _T | None) -> _T:
    """The row a held lock guarantees (what SQLAlchemy's ``scalar_one`` / ``one`` raised)."""
    if value is None:
        raise NoResultFound("No row was found when one was required")
    return value


async def _read_state(driver: asyncpg.Connection, account_id: str) -> tuple[AccountState, int]:
    """The row's state and version (for an account this transaction holds locked)."""
    row = _one(await driver.fetchrow(READ_STATE, account_id))
    return AccountState.model_validate_json(row["state"]), row["version"]


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
        ahead = session.info.get(_AHEAD)
        if ahead and account_id in ahead:
            self._dirty.add(account_id)  # as in ``_lock``
            held[account_id] = locked = ahead.pop(account_id)
            return locked
        held[account_id] = locked = await self._lock(session, account_id)
        return locked

    async def lock_many(self, session: AsyncSession, account_ids: Iterable[str]) -> None:
        """Lock these accounts ahead of a batch's handlers, in one statement and in id order
        (their ``lock`` calls then cost nothing). Accounts without a row yet are left to
        ``lock``, which creates them."""
        held = session.info.setdefault(_HELD, {})
        ahead = session.info.setdefault(_AHEAD, {})
        wanted = sorted(set(account_ids) - set(held) - set(ahead))
        if len(wanted) > 1:
            await self._lock_many(session, wanted, ahead)

    async def lock_ahead_probing(self, session: AsyncSession, account_id: str, probe: str,
                                 *args: object) -> tuple[bool, object]:
        """Lock ``account_id`` ahead, as ``lock_many`` does, and answer ``probe`` (a scalar
        sub-select of this schema, its parameters ``$2``… being ``args``) in the same round
        trip. Returns (whether it ran, the probe's value): it does not run when the account
        is held or locked ahead already. An account without a row yet is left to ``lock``."""
        held = session.info.setdefault(_HELD, {})
        ahead = session.info.setdefault(_AHEAD, {})
        if account_id in held or account_id in ahead:
            return False, None
        driver = await driver_connection(session)
        row = _one(await driver.fetchrow(LOCK_PROBING.format(probe=probe), account_id, *args))
        version = row["version"]
        if version is not None:
            ahead[account_id] = await self._state_at(driver, account_id, version)
        return True, row["probe"]

    async def _state_at(self, driver: asyncpg.Connection, account_id: str,
                        version: int) -> tuple[AccountState, int]:
        """An account locked at ``version``: the cached state when it is that version's and
        clean, else the row's (not marked dirty: see ``_lock_many``)."""
        clean = self._clean_copy(account_id, version)
        if clean is not None:
            return clean, version
        return await _read_state(driver, account_id)

    async def _lock_many(self, session: AsyncSession, wanted: list[str],
                         ahead: dict[str, tuple[AccountState, int]]) -> None:
        """Into ``ahead``: each account's state as ``_lock`` would return it. Only ``lock``
        marks an account dirty (an account locked ahead but never handled must stay in the
        market watch, which skips dirty ones); the row lock keeps the cache entry current
        meanwhile, as no other writer can commit to it."""
        driver = await driver_connection(session)
        stale: list[str] = []
        for account_id, version in await driver.fetch(LOCK_MANY, wanted):
            clean = self._clean_copy(account_id, version)
            if clean is not None:
                ahead[account_id] = (clean, version)
            else:
                stale.append(account_id)
        if stale:
            for account_id, version, state in await driver.fetch(READ_MANY, stale):
                ahead[account_id] = (AccountState.model_validate_json(state), version)

    async def _lock(self, session: AsyncSession, account_id: str) -> tuple[AccountState, int]:
        driver = await driver_connection(session)
        version = await driver.fetchval(LOCK_VERSION, account_id)
        if version is None:
            await driver.execute(CREATE, account_id,
                                 AccountState(account_id=account_id).model_dump_json())
            version = _one(await driver.fetchval(LOCK_VERSION, account_id))
        clean = self._clean_copy(account_id, version)
        self._dirty.add(account_id)  # until a commit publishes, the in-memory copy is suspect
        if clean is not None:
            return clean, version
        return await _read_state(driver, account_id)

    def _clean_copy(self, account_id: str, version: int) -> AccountState | None:
        """The cached state, when it is ``version``'s and no writer has it."""
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] == version and account_id not in self._dirty:
            return cached[1]
        return None

    async def save(self, uow: UnitOfWork, state: AccountState, version: int,
                   deferred: bool = True) -> None:
        """Persist ``state`` (as locked at ``version``) once, just before this transaction
        commits, whatever number of events changed it meanwhile; every account saved in a
        transaction is written by one statement. ``deferred=False`` writes now (for callers
        already running as a before-commit write)."""
        if not deferred:
            await self._write_all(uow, {state.account_id: (state, version)})
            return
        saving = uow.session.info.get(_SAVING)
        if saving is None:
            saving = uow.session.info[_SAVING] = {}

            async def write(u: UnitOfWork) -> None:
                await self._write_all(u, u.session.info.pop(_SAVING, {}))

            uow.before_commit(_SAVING, write)
        saving[state.account_id] = (state, version)

    async def _write_all(self, uow: UnitOfWork,
                         saving: dict[str, tuple[AccountState, int]]) -> None:
        if not saving:
            return
        await self._write_rows(uow, [(a, v + 1, st) for a, (st, v) in saving.items()])
        for account_id, (state, version) in saving.items():
            def publish(account_id: str = account_id, state: AccountState = state,
                        version: int = version) -> None:
                self._cache[account_id] = (version + 1, state)
                self._index(state)
                self._dirty.discard(account_id)

            uow.after_commit(publish)

    async def _write_rows(self, uow: UnitOfWork,
                          rows: list[tuple[str, int, AccountState]]) -> None:
        if len(rows) == 1:
            account_id, version, state = rows[0]
            await self._write_row(uow, account_id, version, state)
            return
        await (await driver_connection(uow.session)).execute(
            SAVE_MANY, [a for a, _, _ in rows], [v for _, v, _ in rows],
            [st.model_dump_json() for _, _, st in rows])

    async def _write_row(self, uow: UnitOfWork, account_id: str, version: int,
                         state: AccountState) -> None:
        """The row is locked by this transaction, so the write needs no answer: it goes with
        the COMMIT when the kit owns the transaction (a round trip fewer per batch)."""
        document = state.model_dump_json()
        if send_with_commit(uow.session, lambda: (
                f"UPDATE account_state SET version = {int(version)}, "
                f"state = {text_literal(document)} WHERE account_id = {text_literal(account_id)}")):
            return
        await (await driver_connection(uow.session)).execute(SAVE, version, document, account_id)

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
        by_symbol, out = self._by_symbol, set()
        for symbol in symbols:  # a loop, not ``set().union(*…)``: asked for every price
            held = by_symbol.get(symbol)
            if held:
                out |= held
        return out

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
