"""Unit of work: one database transaction holding the inbox record, the state change and the
outgoing events (outbox). Events are published by the relay only after commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from robson_contracts import Message, encode, subject_for
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from robson_kit.bus import headers_for
from robson_kit.clock import Clock
from robson_kit.tables import inbox, outbox

Callback = Callable[[], Awaitable[None] | None]


class UnitOfWork:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self._pending: list[tuple[str, Message]] = []
        self._after_commit: list[Callback] = []
        self._connection: AsyncConnection | None = None

    def emit(self, message: Message, subject: str | None = None) -> None:
        """Queue an outgoing event; it is written to the outbox in this transaction."""
        self._pending.append((subject or subject_for(message), message))

    def after_commit(self, callback: Callback) -> None:
        """Run once the transaction has committed (e.g. update an in-memory index)."""
        self._after_commit.append(callback)

    async def execute(self, statement: Executable, params: dict[str, Any] | None = None) -> Result[Any]:
        """Core statement on this transaction's connection: lighter than ``session.execute``
        for hot paths (no ORM bookkeeping). Prefer statements built once with bindparams."""
        if self._connection is None:
            self._connection = await self.session.connection()
        return await self._connection.execute(statement, params)

    @property
    def emitted(self) -> list[Message]:
        return [m for _, m in self._pending]

    def take_outbox_rows(self) -> list[dict[str, object]]:
        rows = [
            {
                "message_id": m.message_id,
                "subject": subject,
                "message_type": m.message_type,  # type: ignore[attr-defined]
                "payload": encode(m),
                "headers": headers_for(m),
            }
            for subject, m in self._pending
        ]
        self._pending.clear()
        return rows

    async def flush_outbox(self) -> int:
        return await flush_outboxes(self.session, [self])

    def discard(self) -> None:
        self._pending.clear()
        self._after_commit.clear()

    async def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for cb in callbacks:
            result = cb()
            if result is not None:
                await result


async def record_inbox_batch(
    session: AsyncSession, records: list[tuple[object, str, str]]
) -> set[object]:
    """Insert processed-message records in one statement; returns the ids that were new."""
    stmt = (
        pg_insert(inbox)
        .values([{"message_id": m, "consumer": c, "subject": s} for m, c, s in records])
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(inbox.c.message_id)
    )
    return set((await session.execute(stmt)).scalars())


async def flush_outboxes(session: AsyncSession, uows: list[UnitOfWork]) -> int:
    """Write every queued event of these units of work to the outbox in one statement."""
    rows = [row for uow in uows for row in uow.take_outbox_rows()]
    if rows:
        await session.execute(insert(outbox), rows)
    return len(rows)


class UnitOfWorkFactory:
    """For API routes and timers: ``async with uow_factory() as uow: ...`` commits on exit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 on_committed: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.clock = clock
        self.on_committed = on_committed

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(session, self.clock)
            yield uow
            wrote = await uow.flush_outbox()
        await uow.run_after_commit()
        if wrote and self.on_committed is not None:
            self.on_committed()
