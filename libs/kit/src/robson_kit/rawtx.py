"""A batch transaction's first and last round trips carry its inbox record and its outbox.

A consumer's batch transaction used to cost, besides the handlers' own statements, four round
trips to Postgres: ``BEGIN``, the inbox insert, the outbox insert and ``COMMIT``. Each is a
write and a wake-up on both sides; at low rates they are most of a hop's latency and much of
its CPU. Here the kit sends ``BEGIN`` together with the inbox insert, and the outbox insert
together with ``COMMIT``, each pair as one simple-protocol query (the simple protocol takes
several statements in one message; it takes no parameters, so the values are written as
literals, see ``text_literal``).

* ``begin_with_inbox``: ``BEGIN; INSERT INTO inbox … ON CONFLICT DO NOTHING``. The status
  (``INSERT 0 n``) says whether every record was new; if not (a redelivered message, a copy in
  the same batch) the transaction is rolled back and the caller records the inbox the usual
  way, which says which ids were new. Duplicates are rare, so that costs little.
* ``commit_with_outbox``: the ORM session is flushed first (nothing may run after ``COMMIT``),
  then ``INSERT INTO outbox …; COMMIT``, preceded by the statements queued with
  ``send_with_commit`` (writes whose answer nobody reads, their values written as literals).
  A queued statement is never dropped: when the outbox cannot go as literals they are sent at
  once, and a COMMIT the kit no longer owns fails the transaction instead. A failure of either
  statement leaves the transaction to the normal rollback (a ``ROLLBACK`` after a failed
  ``COMMIT`` is answered with a warning).

SQLAlchemy's asyncpg adapter keeps the transaction it began in ``_transaction`` and calls
``commit``/``rollback`` on it; while the kit owns the transaction, ``_transaction`` is a
``KitTransaction`` whose ``commit`` is a no-op once the kit has committed. Its COMMITs bypass
SQLAlchemy's events, so each is preceded by the engine's commit guard, if it has one
(``robson_kit.commit_guard``). asyncpg itself sees
only plain statements (its own transaction object is not involved), as with any ``BEGIN`` sent
by hand. ``tests/test_rawtx.py`` in the kit proves commit, rollback, duplicates and reuse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from robson_kit import faults
from robson_kit.commit_guard import CommitGuard, guard_of

_KIT_TX = "robson.kit_transaction"
MAX_LITERAL_BYTES = 256 * 1024
"""Above this, events go out as parameters (a literal doubles the size of a payload)."""


class NotLiteral(ValueError):
    """A value that is not written as a literal (the caller uses parameters instead)."""


class KitTransaction:
    """Stands in for asyncpg's transaction object under SQLAlchemy's adapter while the kit owns
    the transaction (it sent ``BEGIN`` itself, and may send ``COMMIT`` with its last write)."""

    __slots__ = ("adapted", "driver", "ended", "guard")

    def __init__(self, adapted: Any, guard: CommitGuard | None = None) -> None:
        self.adapted = adapted
        """SQLAlchemy's adapted connection whose ``_transaction`` this stands in for."""
        self.driver: asyncpg.Connection = adapted.driver_connection
        self.ended = False
        self.guard = guard
        """The engine's commit guard, awaited before each COMMIT sent here."""

    async def commit(self) -> None:
        if not self.ended:
            await self.confirm_lock()
            self.ended = True
            await self.driver.execute("COMMIT")

    async def confirm_lock(self) -> None:
        if self.guard is not None:
            await self.guard.confirm()

    async def rollback(self) -> None:
        if not self.ended:
            self.ended = True
            await self.driver.execute("ROLLBACK")


def text_literal(value: str) -> str:
    """An escape-string literal (also for ``send_with_commit``'s statements): the same meaning
    whatever ``standard_conforming_strings`` is."""
    if "\x00" in value:
        raise NotLiteral("NUL in a text value")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise NotLiteral(f"not text: {value!r}")
    return text_literal(value)


def _boolean(value: object) -> str:
    if not isinstance(value, bool):
        raise NotLiteral(f"not a boolean: {value!r}")
    return "TRUE" if value else "FALSE"


def _integer(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotLiteral(f"not an integer: {value!r}")
    return str(value)


def _numeric(value: object) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise NotLiteral(f"not a finite decimal: {value!r}")
    return f"'{value}'"  # digits, sign, point and exponent only


def _timestamp(value: object) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise NotLiteral(f"not an aware datetime: {value!r}")
    return f"'{value.isoformat()}'"


_WRITERS: dict[str, Callable[[object], str]] = {
    "text": _text, "varchar": _text, "jsonb": _text, "boolean": _boolean, "bigint": _integer,
    "integer": _integer, "numeric": _numeric, "timestamptz": _timestamp,
}


def typed_literal(value: object, sql_type: str) -> str:
    """``value`` as a literal of ``sql_type`` (a key of ``_WRITERS``; ``jsonb`` takes the JSON
    text), cast to it; None is ``NULL`` of that type. ``NotLiteral`` for a value of another
    Python type, a decimal that is not finite, a datetime without a zone or text with a NUL:
    the caller then sends its statement with parameters."""
    if value is None:
        return f"NULL::{sql_type}"
    return f"{_WRITERS[sql_type](value)}::{sql_type}"


def typed_row(values: Sequence[object], sql_types: Sequence[str]) -> str:
    """``(v1, v2, …)`` for a ``VALUES`` list: each value as ``typed_literal`` of its column's
    type."""
    return "(" + ", ".join(typed_literal(v, t) for v, t in zip(values, sql_types, strict=True)) + ")"


def _uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    try:
        return f"'{uuid.UUID(str(value))}'::uuid"
    except ValueError as exc:
        raise NotLiteral(f"not a uuid: {value!r}") from exc


def _bytea(value: bytes) -> str:
    return f"decode('{bytes(value).hex()}', 'hex')"


def inbox_values(records: list[tuple[object, str, str]]) -> str:
    return ", ".join(f"({_uuid(m)}, {text_literal(c)}, {text_literal(s)})" for m, c, s in records)


def outbox_values(rows: list[dict[str, Any]]) -> str:
    if sum(len(r["payload"]) for r in rows) > MAX_LITERAL_BYTES:
        raise NotLiteral("payloads too large for literals")
    return ", ".join(
        f"({_uuid(r['message_id'])}, {text_literal(r['subject'])}, {text_literal(r['message_type'])}, "
        f"{_bytea(r['payload'])}, {text_literal(json.dumps(r['headers']))}::jsonb)" for r in rows)


async def _adapter(session: AsyncSession) -> tuple[Any, CommitGuard | None]:
    """SQLAlchemy's adapted asyncpg connection under the session, and its engine's guard."""
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    return adapted, guard_of(connection.sync_engine)


async def begin_with_inbox(session: AsyncSession, records: list[tuple[object, str, str]],
                           driver_key: str) -> bool:
    """Begin the session's transaction and record these inbox entries in one round trip. True
    when every record was new; False when nothing was done (the transaction has not begun: the
    caller records the inbox the usual way)."""
    adapted, guard = await _adapter(session)
    if adapted._transaction is not None or adapted.isolation_level is not None \
            or adapted.readonly or adapted.deferrable:
        return False  # begun already, or not a plain BEGIN: leave it to SQLAlchemy
    try:
        values = inbox_values(records)
    except NotLiteral:
        return False
    kit = KitTransaction(adapted, guard)
    driver = kit.driver
    adapted._transaction = kit  # from here a failure is rolled back by the session as usual
    status = await driver.execute(
        "BEGIN; INSERT INTO inbox (message_id, consumer, subject) VALUES "
        f"{values} ON CONFLICT (message_id) DO NOTHING")
    if status != f"INSERT 0 {len(records)}":
        await kit.rollback()  # some were recorded before: find out which, the usual way
        adapted._transaction = None
        return False
    session.info[_KIT_TX] = (session.get_transaction(), kit)
    session.info[driver_key] = (session.get_transaction(), driver)
    return True


COMMIT_SENT = "robson_kit.commit_sent"
"""In a session's ``info`` once its COMMIT is on its way: from then on a failure leaves the
transaction's outcome unknown (``uow.commit_doubt``); before, nothing it wrote can have landed."""


WITH_COMMIT = "robson_kit.with_commit"
"""In a session's ``info``: statements queued to go in the COMMIT's round trip."""


def send_with_commit(session: AsyncSession, build: Callable[[], str]) -> bool:
    """Queue the statement ``build`` writes (complete SQL, its values written as literals:
    ``text_literal``) to go in the same round trip as the COMMIT, before the outbox insert.
    For a write whose answer nobody reads (an ``UPDATE`` of a row the transaction holds
    locked). False, nothing queued, when the kit does not own the transaction (``build`` is
    not called), when a value cannot be a literal (``NotLiteral``) or when the statement is
    over ``MAX_LITERAL_BYTES``: the caller runs the write itself, with parameters."""
    if kit_transaction(session) is None:
        return False
    try:
        statement = build()
    except NotLiteral:
        return False
    if len(statement) > MAX_LITERAL_BYTES:
        return False
    session.info.setdefault(WITH_COMMIT, []).append(statement)
    return True


def kit_transaction(session: AsyncSession) -> KitTransaction | None:
    held = session.info.get(_KIT_TX)
    if held is not None and held[0] is session.get_transaction() and not held[1].ended:
        return held[1]
    return None


async def commit_with_outbox(session: AsyncSession, rows: list[dict[str, Any]]) -> bool:
    """Write these outbox rows and commit in one round trip, if the kit owns the transaction
    and the rows can be literals; False when nothing was done."""
    kit = kit_transaction(session)
    queued: list[str] = session.info.pop(WITH_COMMIT, [])
    if kit is None:
        _never_dropped(queued)
        return False
    try:
        values = outbox_values(rows) if rows else ""
    except NotLiteral:
        if queued:  # they go now; the outbox and the COMMIT the usual way
            await kit.driver.execute("; ".join(queued))
        return False
    if session.new or session.dirty or session.deleted:
        await session.flush()  # whatever the ORM still holds must be in before COMMIT
    if kit.adapted._transaction is not kit:
        _never_dropped(queued)
        return False  # someone ended or replaced the transaction meanwhile: not ours to commit
    insert = "".join(f"{statement}; " for statement in queued) + (
        "INSERT INTO outbox (message_id, subject, message_type, payload, headers) VALUES "
        f"{values}; " if rows else "")
    await kit.confirm_lock()
    session.info[COMMIT_SENT] = True
    status = await kit.driver.execute(f"{insert}COMMIT")
    kit.ended = True
    if status != "COMMIT":  # Postgres answers ROLLBACK to a COMMIT of a failed transaction
        raise TransactionRolledBack(f"COMMIT answered {status!r}")
    faults.point("commit.landed")
    return True


def _never_dropped(queued: list[str]) -> None:
    """Statements queued for a COMMIT this function will not send: failing the transaction
    (its message is retried) rather than committing without them."""
    if queued:
        raise RuntimeError(f"{len(queued)} statement(s) queued for a COMMIT the kit no longer "
                           "owns: the transaction fails rather than commit without them")


class TransactionRolledBack(RuntimeError):
    """The transaction had failed before its COMMIT (a statement error a caller swallowed)."""
