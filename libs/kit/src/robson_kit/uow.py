"""Unit of work: one database transaction holding the inbox record, the state change and the
outgoing events (outbox). Events are published only after commit: at once by the writer, or by
the relay's sweep if that fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from robson_contracts import Message, encode, subject_for
from sqlalchemy import text
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from robson_kit.bus import headers_for
from robson_kit.clock import Clock
from robson_kit.commit_guard import LockNotConfirmed
from robson_kit.errors import PermanentError
from robson_kit.outage import server_refused
from robson_kit.rawtx import (
    COMMIT_SENT,
    TransactionRolledBack,
    begin_with_inbox,
    commit_with_outbox,
)

Callback = Callable[[], Awaitable[None] | None]
OutboxRow = dict[str, Any]
Write = Callable[["UnitOfWork"], Awaitable[None]]
_BEFORE_COMMIT = "robson.before_commit"
_DRIVER = "robson.driver_connection"
Committed = Callable[[list[OutboxRow]], Awaitable[None]]
"""Called after a commit with the outbox rows it wrote (the relay publishes them at once)."""


@dataclass(frozen=True, slots=True)
class CommitDoubt:
    """A transaction failed once its COMMIT was on its way: it may have landed all the same."""

    events: bool
    """It wrote events to the outbox (they may be there, unpublished)."""
    effects: bool
    """Some of its ``after_commit`` effects did not run: the process's memory may be behind
    its database, and the message's redelivery, a duplicate, will not bring them."""


InDoubt = Callable[[CommitDoubt], None]
DEFAULT_MAX_PAYLOAD = 1024 * 1024
"""nats-server's default; the bus replaces it with the connected server's ``max_payload``."""
HEADER_ALLOWANCE = 1024
"""Room kept for the headers: the server counts them in its limit and closes the connection of
a client that sends more."""


class PayloadTooLarge(PermanentError):
    """An event too large for the bus: refused at emit time, before anything commits (an HTTP
    route answers 422; a consumer dead-letters the message that caused it)."""

    def __init__(self, message_type: str, size: int, limit: int) -> None:
        super().__init__("PAYLOAD_TOO_LARGE", f"{message_type} would be {size} bytes on the bus; "
                                              f"at most {limit} fit")


def check_payload(message_type: str, payload: bytes, max_payload: int) -> None:
    limit = max_payload - HEADER_ALLOWANCE
    if len(payload) > limit:
        raise PayloadTooLarge(message_type, len(payload), limit)


class UnitOfWork:
    def __init__(self, session: AsyncSession, clock: Clock, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.session = session
        self.clock = clock
        self.max_payload = max_payload
        self._pending: list[tuple[str, Message, bytes]] = []
        self._after_commit: list[Callback] = []
        self._connection: AsyncConnection | None = None
        self.written: list[OutboxRow] = []
        """Outbox rows this unit of work wrote; published right after commit."""
        self.published = False
        """``written`` went to the bus before the session closed (``BatchTransaction``)."""
        self.batch: tuple[Message, ...] = ()
        """Every message this transaction handles (a consumer's fetched batch, duplicates left
        out), so a handler can read or lock what the whole batch needs in one statement the
        first time (e.g. every account the batch touches); empty outside a consumer batch."""

    def emit(self, message: Message, subject: str | None = None) -> None:
        """Queue an outgoing event; it is written to the outbox in this transaction.
        Raises ``PayloadTooLarge`` for an event the bus could never carry."""
        payload = encode(message)
        check_payload(message.message_type, payload, self.max_payload)  # type: ignore[attr-defined]
        self._pending.append((subject or subject_for(message), message, payload))

    def before_commit(self, key: object, write: Write) -> None:
        """Run ``write(uow)`` once, just before this transaction commits; later calls with the
        same key replace it. A consumer runs a whole fetched batch in one transaction, so hot
        handlers (market ticks) can keep state in memory and persist it once per batch."""
        self.session.info.setdefault(_BEFORE_COMMIT, {})[key] = (write, self)

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
        return [m for _, m, _ in self._pending]

    def take_outbox_rows(self) -> list[OutboxRow]:
        rows = [
            {
                "message_id": m.message_id,
                "subject": subject,
                "message_type": m.message_type,  # type: ignore[attr-defined]
                "payload": payload,
                "headers": headers_for(m),
            }
            for subject, m, payload in self._pending
        ]
        self._pending.clear()
        self.written.extend(rows)
        return rows

    async def flush_outbox(self) -> int:
        return await flush_outboxes(self.session, [self])

    def discard(self) -> None:
        self._pending.clear()
        self._after_commit.clear()

    @property
    def effects_pending(self) -> bool:
        """``after_commit`` callbacks not run (or one that failed)."""
        return bool(self._after_commit)

    async def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for i, cb in enumerate(callbacks):
            try:
                result = cb()
                if result is not None:
                    await result
            except BaseException:
                self._after_commit[:0] = callbacks[i:]  # this one and the rest did not run
                raise


# The kit's own statements run on the transaction's asyncpg connection directly: SQLAlchemy's
# statement machinery costs more CPU than the round trip itself, on every message. Each is one
# statement for any batch size (unnest), so asyncpg prepares it once per connection.
RECORD_INBOX = (
    "INSERT INTO inbox (message_id, consumer, subject) "
    "SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[]) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
WRITE_OUTBOX = (
    "INSERT INTO outbox (message_id, subject, message_type, payload, headers) "
    "SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::bytea[], $5::jsonb[])"
)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under this session, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; a statement sent
    straight to asyncpg before that would run outside the transaction, so BEGIN is sent here
    (``tests`` in robson_kit prove a rollback takes these statements with it)."""
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1]
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:  # type: ignore[union-attr]
        await adapted._start_transaction()  # type: ignore[union-attr]
    driver: asyncpg.Connection = adapted.driver_connection  # type: ignore[union-attr]
    session.info[_DRIVER] = (session.get_transaction(), driver)
    return driver


_NO_IDLE_LIMIT = text("SET LOCAL idle_in_transaction_session_timeout = 0")


async def lift_idle_limit(connection: AsyncSession | AsyncConnection) -> None:
    """For a start-up load's read-only transaction: the server's idle limit (the fence of a
    frozen holder, ``robson_kit.service_lock``) is off until it ends. Its Python work between
    statements (parsing every stored position, order or projection) may outlast the limit on
    a large book or a busy host, and an aborted load would fail the start, again and again; a
    read writes nothing a frozen holder could commit, and locks no row a successor waits on."""
    await connection.execute(_NO_IDLE_LIMIT)


async def record_inbox_batch(
    session: AsyncSession, records: list[tuple[object, str, str]]
) -> set[object]:
    """Insert processed-message records in one statement; returns the ids that were new."""
    ids, consumers, subjects = (list(column) for column in zip(*records, strict=True))
    driver = await driver_connection(session)
    return {row[0] for row in await driver.fetch(RECORD_INBOX, ids, consumers, subjects)}


async def run_before_commit(session: AsyncSession) -> None:
    """The keyed writes registered with ``UnitOfWork.before_commit`` (they may emit events, and
    register further writes, which run in turn)."""
    while writes := session.info.pop(_BEFORE_COMMIT, {}):
        for write, uow in writes.values():
            await write(uow)


async def begin_recording_inbox(
    session: AsyncSession, records: list[tuple[object, str, str]]
) -> set[object]:
    """Begin the transaction and record the inbox: one round trip when every id is new
    (``robson_kit.rawtx``), else ``record_inbox_batch``. Returns the ids that were new."""
    if await begin_with_inbox(session, records, _DRIVER):
        return {record[0] for record in records}
    return await record_inbox_batch(session, records)


async def flush_outboxes_and_commit(session: AsyncSession, uows: list[UnitOfWork]) -> bool:
    """``flush_outboxes``, committing with the outbox write in one round trip when the kit
    began the transaction (``begin_recording_inbox``): True, the COMMIT is done. Else False:
    the session commits as usual, at the end of its transaction block."""
    await run_before_commit(session)
    rows = [row for uow in uows for row in uow.take_outbox_rows()]
    if await commit_with_outbox(session, rows):
        return True
    await _write_outbox(session, rows)
    await _commit_next(session)
    return False


async def flush_outboxes(session: AsyncSession, uows: list[UnitOfWork]) -> int:
    """Run the deferred writes, then write every queued event of these units of work to the
    outbox in one statement."""
    await run_before_commit(session)
    rows = [row for uow in uows for row in uow.take_outbox_rows()]
    await _write_outbox(session, rows)
    return len(rows)


async def _commit_next(session: AsyncSession) -> None:
    """The session's COMMIT comes next: whatever the ORM still holds goes in now (a flush that
    fails is no doubt), and from here on a failure leaves the outcome unknown, except the commit
    guard's refusal (``LockNotConfirmed``), raised before anything is sent."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    session.info[COMMIT_SENT] = True


async def _write_outbox(session: AsyncSession, rows: list[OutboxRow]) -> None:
    if rows:
        driver = await driver_connection(session)
        await driver.execute(
            WRITE_OUTBOX, [r["message_id"] for r in rows], [r["subject"] for r in rows],
            [r["message_type"] for r in rows], [r["payload"] for r in rows],
            [json.dumps(r["headers"]) for r in rows],
        )


@asynccontextmanager
async def commit_doubt(uows: list[UnitOfWork], notify: InDoubt | None) -> AsyncIterator[None]:
    """Around a transaction of ``uows``: when it raises or is cancelled once its COMMIT is on
    its way (under way, or done and what follows failing), the commit may have landed all the
    same: ``notify`` is told what is at stake (``Service.commit_in_doubt``). Before that, nothing
    it wrote can have been committed."""
    try:
        yield
    except LockNotConfirmed:
        raise
    except BaseException as exc:
        if notify is not None and any(uow.session.info.get(COMMIT_SENT) for uow in uows) \
                and outcome_unknown(exc):
            notify(CommitDoubt(events=any(uow.written for uow in uows),
                               effects=any(uow.effects_pending for uow in uows)))
        raise


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a transaction that failed once its COMMIT was sent may have committed. Not when
    the server answered with an error of its own (``outage.server_refused``) or COMMIT answered
    ROLLBACK; a lost connection, a cancellation, an error that ends the session (FATAL, such as
    ``pg_terminate_backend``'s) or a failing ``after_commit`` effect may come after the commit
    was done."""
    return not (isinstance(exc, TransactionRolledBack) or server_refused(exc))


class UnitOfWorkFactory:
    """For API routes and timers: ``async with uow_factory() as uow: ...`` commits on exit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 on_committed: Committed | None = None, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 on_commit_in_doubt: InDoubt | None = None) -> None:
        self.sessions = sessions
        self.clock = clock
        self.on_committed = on_committed
        self.max_payload = max_payload
        self.on_commit_in_doubt = on_commit_in_doubt
        """Told when a commit failed once on its way: it may have landed all the same."""

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        uows: list[UnitOfWork] = []
        async with commit_doubt(uows, self.on_commit_in_doubt):
            async with self.sessions() as session, session.begin():
                uow = UnitOfWork(session, self.clock, self.max_payload)
                uows.append(uow)
                yield uow
                await uow.flush_outbox()
                await _commit_next(session)
            # Committed: an effect that fails (or is cancelled) leaves memory behind the tables
            # as a doubtful commit would, and is handled the same way.
            await uow.run_after_commit()
        if uow.written and self.on_committed is not None:
            await self.on_committed(uow.written)
