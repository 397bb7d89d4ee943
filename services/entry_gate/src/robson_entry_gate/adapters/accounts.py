"""Account projections in Postgres with a write-through in-memory cache.

A handler ``lock``s an account (``SELECT … FOR UPDATE``: one writer per account, across tasks
and processes), mutates it, and ``save``s it in the same transaction. The cache is replaced
only after commit; while a writer holds an account its cache entry is marked dirty, so a
rolled-back change can never leak into later reads.
"""

from __future__ import annotations

from robson_kit.uow import UnitOfWork
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import account_state
from robson_entry_gate.domain.state import AccountState


class AccountStore:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, AccountState]] = {}
        self._dirty: set[str] = set()

    async def load_all(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(account_state))).all()
        self._cache = {r.account_id: (r.version, AccountState.model_validate_json(r.state))
                       for r in rows}
        self._dirty.clear()

    async def lock(self, session: AsyncSession, account_id: str) -> tuple[AccountState, int]:
        await session.execute(
            insert(account_state)
            .values(account_id=account_id, version=0,
                    state=AccountState(account_id=account_id).model_dump_json())
            .on_conflict_do_nothing(index_elements=["account_id"])
        )
        row = (await session.execute(
            select(account_state.c.version, account_state.c.state)
            .where(account_state.c.account_id == account_id).with_for_update()
        )).one()
        cached = self._cache.get(account_id)
        trusted = cached is not None and cached[0] == row.version and account_id not in self._dirty
        self._dirty.add(account_id)  # until a commit publishes, the in-memory copy is suspect
        if trusted:
            return cached[1], row.version
        return AccountState.model_validate_json(row.state), row.version

    async def save(self, uow: UnitOfWork, state: AccountState, version: int) -> None:
        account_id = state.account_id
        await uow.session.execute(
            update(account_state).where(account_state.c.account_id == account_id)
            .values(version=version + 1, state=state.model_dump_json())
        )

        def publish() -> None:
            self._cache[account_id] = (version + 1, state)
            self._dirty.discard(account_id)

        uow.after_commit(publish)

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

    def cached(self) -> list[AccountState]:
        return [s for a, (_, s) in self._cache.items() if a not in self._dirty]
