"""A batch transaction sends BEGIN with its inbox insert and COMMIT with its outbox insert, one
round trip each (``robson_kit.rawtx``): the same effects, rollbacks and duplicate handling as
separate statements."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from nats.aio.msg import Msg
from robson_contracts import encode
from robson_contracts import subjects as s
from robson_kit.batch import BatchTransaction
from robson_kit.clock import WallClock
from robson_kit.db import make_engine, make_sessionmaker
from robson_kit.rawtx import (
    MAX_LITERAL_BYTES,
    NotLiteral,
    TransactionRolledBack,
    begin_with_inbox,
    commit_with_outbox,
    send_with_commit,
    text_literal,
    typed_literal,
    typed_row,
)
from robson_kit.service import Service
from robson_kit.tables import inbox
from robson_kit.testing import log_queries
from robson_kit.uow import (
    UnitOfWork,
    begin_recording_inbox,
    driver_connection,
    flush_outboxes_and_commit,
)
from sampleapp.app import handle_signal
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase

from .test_messaging import make_signal, seen


async def _count(service: Service, sql: str, **params: Any) -> int:
    async with service.sessions() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def _msg(signal: Any) -> Msg:
    return Msg(None, subject=s.subject_for(signal), data=encode(signal))


async def test_batch_transaction_costs_one_round_trip_at_each_end(sample: Service) -> None:
    engine = make_engine(sample.settings.database_url, sample.settings.db_schema)  # ours alone
    executed = log_queries(engine)
    signals = [make_signal(f"ends-{i}") for i in range(3)]
    batch = BatchTransaction("sample_signals", handle_signal, True, make_sessionmaker(engine),
                             WallClock(), "sample")
    try:
        outcomes, uows = await batch.run([(_msg(m), m) for m in signals])
    finally:
        await engine.dispose()
    assert [o.kind for o in outcomes.values()] == ["ack"] * 3
    ours = [q for q in executed if "inbox" in q or "outbox" in q or q.strip().upper().startswith(
        ("BEGIN", "COMMIT", "ROLLBACK"))]
    assert len(ours) == 2, ours  # not BEGIN, inbox, outbox, COMMIT
    assert ours[0].startswith("BEGIN; INSERT INTO inbox") and ours[1].endswith("COMMIT")
    assert [await seen(sample, m.signal_id) for m in signals] == [1, 1, 1]
    assert await _count(sample, "SELECT count(*) FROM outbox WHERE message_id = ANY(:ids)",
                        ids=[r["message_id"] for u in uows for r in u.written]) == 3


async def test_a_message_recorded_before_falls_back_and_is_not_handled_again(
    sample: Service,
) -> None:
    done, fresh = make_signal("before"), make_signal("after")
    batch = BatchTransaction("sample_signals", handle_signal, True, sample.sessions, WallClock(),
                             "sample")
    await batch.run([(_msg(done), done)])
    outcomes, uows = await batch.run([(_msg(done), done), (_msg(fresh), fresh)])
    assert [o.kind for o in outcomes.values()] == ["ack", "ack"]
    assert len(uows) == 1  # only the fresh one ran its handler
    assert (await seen(sample, "before"), await seen(sample, "after")) == (1, 1)


async def test_a_failure_after_the_kit_began_rolls_everything_back(sample: Service) -> None:
    message = make_signal("kit-rolled-back")
    with pytest.raises(RuntimeError):
        async with sample.sessions() as session, session.begin():
            assert await begin_recording_inbox(session, [(message.message_id, "c", "s")]) == {
                message.message_id}
            uow = UnitOfWork(session, WallClock())
            await handle_signal(message, uow)
            raise RuntimeError("handler failed after the kit's writes")
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id",
                        id=message.message_id) == 0
    assert await seen(sample, "kit-rolled-back") == 0
    async with sample.sessions() as session, session.begin():  # the connection is clean again
        assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")


async def test_literals_keep_quotes_backslashes_and_bytes_exactly(sample: Service) -> None:
    message = make_signal("quoted")
    subject = "robson.odd.'quote'.\\back\\slash.$1.;DROP"
    async with sample.sessions() as session, session.begin():
        assert await begin_with_inbox(session, [(message.message_id, "o'k\\", subject)], "k")
        uow = UnitOfWork(session, WallClock())
        uow.emit(message, subject=subject)
        rows = uow.take_outbox_rows()
        rows[0]["headers"]["X-Odd"] = "it's \\ \"quoted\" é"
        rows[0]["payload"] = b"\x00\xff'\\" + rows[0]["payload"]
        assert await commit_with_outbox(session, rows)
    async with sample.sessions() as session:
        inbox = (await session.execute(text(
            "SELECT consumer, subject FROM inbox WHERE message_id = :id"),
            {"id": message.message_id})).one()
        outbox = (await session.execute(text(
            "SELECT subject, payload, headers FROM outbox WHERE message_id = :id"),
            {"id": message.message_id})).one()
    assert tuple(inbox) == ("o'k\\", subject)
    assert (outbox.subject, bytes(outbox.payload), outbox.headers) == (
        subject, rows[0]["payload"], rows[0]["headers"])


async def test_a_failed_statement_swallowed_by_a_handler_never_commits(sample: Service) -> None:
    message = make_signal("swallowed")
    with pytest.raises(TransactionRolledBack):
        async with sample.sessions() as session, session.begin():
            assert await begin_recording_inbox(session, [(message.message_id, "c", "s")])
            try:
                await (await session.connection()).exec_driver_sql("SELECT 1/0")
            except Exception:
                pass  # a handler that swallows a database error
            await flush_outboxes_and_commit(session, [])  # Postgres answers ROLLBACK
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id",
                        id=message.message_id) == 0


class _Mapped(DeclarativeBase):
    pass


class _InboxRecord(_Mapped):
    """An ORM mapping of the kit's inbox table: a handler's unflushed ORM object to commit."""

    __table__ = inbox


async def test_orm_objects_a_handler_left_unflushed_are_written_before_the_kit_commits(
    sample: Service,
) -> None:
    message, added = make_signal("orm-flush"), make_signal("orm-object")
    async with sample.sessions() as session, session.begin():
        assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")
        session.add(_InboxRecord(message_id=added.message_id, consumer="orm", subject="s"))
        assert await commit_with_outbox(session, [])
        assert not session.new  # flushed before the COMMIT went, so inside the transaction
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id",
                        id=added.message_id) == 1


def _record(message_id: object, consumer: str = "c") -> str:
    """An inbox row's insert, its values written as literals (a statement for the COMMIT)."""
    return ("INSERT INTO inbox (message_id, consumer, subject) VALUES "
            f"('{message_id}'::uuid, {text_literal(consumer)}, 's')")


async def test_a_statement_sent_with_the_commit_lands_in_the_commits_round_trip(
    sample: Service,
) -> None:
    engine = make_engine(sample.settings.database_url, sample.settings.db_schema)  # ours alone
    executed = log_queries(engine)
    message, recorded = make_signal("with-commit"), make_signal("with-commit-row")
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")
            assert send_with_commit(session, lambda: _record(recorded.message_id, "it's \\ sent"))
            assert await commit_with_outbox(session, [])
    finally:
        await engine.dispose()
    assert executed[-1].startswith("INSERT INTO inbox") and executed[-1].endswith("; COMMIT")
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id AND "
                        "consumer = :c", id=recorded.message_id, c="it's \\ sent") == 1


async def test_no_statement_is_queued_for_a_commit_the_kit_does_not_own(sample: Service) -> None:
    async with sample.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))  # begun by SQLAlchemy, not by the kit
        assert not send_with_commit(session, lambda: "SELECT 1")


async def test_a_statement_over_the_literal_limit_is_left_to_its_caller(sample: Service) -> None:
    message = make_signal("queued-too-large")
    async with sample.sessions() as session, session.begin():
        assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")
        huge = f"SELECT {text_literal('x' * MAX_LITERAL_BYTES)}"
        assert not send_with_commit(session, lambda: huge)
        assert send_with_commit(session, lambda: "SELECT 1")  # the transaction is the kit's
        assert await commit_with_outbox(session, [])


async def test_a_statement_with_a_value_that_cannot_be_literal_is_left_to_its_caller(
    sample: Service,
) -> None:
    message = make_signal("queued-not-literal")

    def with_nul() -> str:
        return "SELECT " + text_literal("a\x00b")  # NUL: refused as a literal

    async with sample.sessions() as session, session.begin():
        assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")
        assert not send_with_commit(session, with_nul)
        assert await commit_with_outbox(session, [])  # nothing queued: the kit commits
    unowned: list[str] = []
    async with sample.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))  # begun by SQLAlchemy, not by the kit
        assert not send_with_commit(session, lambda: unowned.append("built") or "SELECT 1")
    assert unowned == []  # not even built


async def test_a_statement_queued_for_the_commit_lands_when_the_outbox_cannot_be_literal(
    sample: Service,
) -> None:
    message, recorded = make_signal("queued-big"), make_signal("queued-big-row")
    async with sample.sessions() as session, session.begin():
        assert await begin_with_inbox(session, [(message.message_id, "c", "s")], "k")
        assert send_with_commit(session, lambda: _record(recorded.message_id))
        uow = UnitOfWork(session, WallClock())
        uow.emit(message)
        rows = uow.take_outbox_rows()
        rows[0]["payload"] = b"x" * (MAX_LITERAL_BYTES + 1)  # goes as a parameter instead
        assert not await commit_with_outbox(session, rows)  # the caller commits as usual
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id",
                        id=recorded.message_id) == 1


async def test_a_failing_statement_queued_for_the_commit_commits_nothing(sample: Service) -> None:
    message = make_signal("queued-fails")
    with pytest.raises(Exception, match="division by zero"):
        async with sample.sessions() as session, session.begin():
            assert await begin_recording_inbox(session, [(message.message_id, "c", "s")])
            assert send_with_commit(session, lambda: "SELECT 1/0")
            await flush_outboxes_and_commit(session, [])
    assert await _count(sample, "SELECT count(*) FROM inbox WHERE message_id = :id",
                        id=message.message_id) == 0


@pytest.mark.parametrize(("value", "sql_type"), [
    ("it's \\ \"q\" é 🙂 $1 ;--", "text"), ("v'1", "varchar"), ('{"a": "b\'\\\\"}', "jsonb"),
    (True, "boolean"), (False, "boolean"), (2**62, "bigint"), (-7, "integer"),
    (Decimal("-0.000000000000000000000000000001"), "numeric"), (Decimal("1E+17"), "numeric"),
    (datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=5))), "timestamptz"),
    (None, "numeric"), (None, "jsonb"),
])
async def test_a_typed_literal_reads_back_as_the_value_it_was_written_from(
    sample: Service, value: object, sql_type: str
) -> None:
    async with sample.sessions() as session:
        driver = await driver_connection(session)
        read = await driver.fetchval(f"SELECT {typed_literal(value, sql_type)}")
    # jsonb comes back parsed (the dialect's codec on the connection)
    assert read == (json.loads(value) if sql_type == "jsonb" and isinstance(value, str) else value)


@pytest.mark.parametrize(("value", "sql_type"), [
    (Decimal("NaN"), "numeric"), (Decimal("Infinity"), "numeric"), (1.5, "numeric"),
    (datetime(2024, 1, 1), "timestamptz"), ("a\x00b", "text"), (1, "boolean"), (True, "bigint"),
    ("1", "integer"), (3, "text"),
])
def test_a_value_of_another_kind_is_no_typed_literal(value: object, sql_type: str) -> None:
    with pytest.raises(NotLiteral):
        typed_literal(value, sql_type)


def test_a_typed_row_writes_each_value_as_its_columns_type() -> None:
    assert typed_row(("a'b", None, 3), ("varchar", "numeric", "bigint")) == \
        "(E'a''b'::varchar, NULL::numeric, 3::bigint)"
    with pytest.raises(ValueError):  # a row and its columns must agree in length
        typed_row(("a",), ("varchar", "bigint"))
