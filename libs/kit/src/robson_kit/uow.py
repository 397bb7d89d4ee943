"""Unit of work: one database transaction holding the inbox record, the state change and the
outgoing events (outbox). Events are published by the relay only after commit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_contracts import Message, encode, subject_for
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

    def emit(self, message: Message, subject: str | None = None) -> None:
        """Queue an outgoing event; it is written to the outbox in this transaction."""
        self._pending.append((subject or subject_for(message), message))

    def after_commit(self, callback: Callback) -> None:
        """Run once the transaction has committed (e.g. update an in-memory index)."""
        self._after_commit.append(callback)

    @property
    def emitted(self) -> list[Message]:
        return [m for _, m in self._pending]

    async def record_inbox(self, message_id: object, consumer: str, subject: str) -> bool:
        """Insert the processed-message record; False when it was already processed."""
        stmt = (
            pg_insert(inbox)
            .values(message_id=message_id, consumer=consumer, subject=subject)
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(inbox.c.message_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def flush_outbox(self) -> int:
        if not self._pending:
            return 0
        rows = [
            {
                "message_id": m.message_id,
                "subject": subject,
                "message_type": m.message_type,  # type: ignore[attr-defined]
                "payload": encode(m),
                "headers": json.loads(json.dumps(headers_for(m))),
            }
            for subject, m in self._pending
        ]
        await self.session.execute(insert(outbox), rows)
        count = len(rows)
        self._pending.clear()
        return count

    def discard(self) -> None:
        self._pending.clear()
        self._after_commit.clear()

    async def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for cb in callbacks:
            result = cb()
            if result is not None:
                await result


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
