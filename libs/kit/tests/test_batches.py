"""A backlog is consumed in batches, one transaction each; one bad message in a batch costs
only itself."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.msg import Msg
from robson_contracts import DeadLetter, encode
from robson_contracts import subjects as s
from robson_kit import metrics
from robson_kit.batch import BatchTransaction
from robson_kit.bus import Bus
from robson_kit.clock import WallClock
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until
from robson_kit.uow import UnitOfWork, record_inbox_batch
from sampleapp.app import NOT_YET_TIMES, SampleSettings, build, handle_signal, not_yet_asked
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from .test_messaging import _decisions_count, decisions, make_signal, seen


async def test_backlog_with_poison_in_the_middle_commits_the_rest_once_and_dead_letters_it(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    ids = [f"sig-{i}" for i in range(12)]
    for i, signal_id in enumerate(ids):
        await bus.publish(make_signal(signal_id, strategy="poison" if i == 6 else "ema_cross"))
    splits = metrics.MESSAGES.labels("sample", "sample_signals", "batch_split")
    splits_before = splits._value.get()
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema))
    await service.start()  # starts after the backlog: the consumer fetches it as a batch
    try:
        async def settled() -> bool:
            return len(await read_stream(bus, s.ALL_DEAD_LETTERS)) == 1 and len(await decisions(bus)) == 11

        await wait_until(settled, message="11 decisions and 1 dead letter")
        counts = {signal_id: await seen(service, signal_id) for signal_id in ids}
    finally:
        await service.stop()
    assert counts == {signal_id: (0 if signal_id == "sig-6" else 1) for signal_id in ids}
    (letter,) = await read_stream(bus, s.ALL_DEAD_LETTERS)
    assert isinstance(letter, DeadLetter) and letter.reason_code == "POISON"
    assert splits._value.get() > splits_before  # the batch holding it was split, not retried


async def test_kit_statements_on_the_driver_connection_roll_back_with_the_session(
    sample: Service,
) -> None:
    """The inbox and outbox are written through asyncpg directly, inside SQLAlchemy's
    transaction: a rollback must take them too."""
    message = make_signal("rolled-back")
    with pytest.raises(RuntimeError):
        async with sample.sessions() as session, session.begin():
            assert await record_inbox_batch(session, [(message.message_id, "c", "s")]) == {
                message.message_id}
            uow = UnitOfWork(session, WallClock())
            uow.emit(message)
            assert await uow.flush_outbox() == 1
            raise RuntimeError("handler failed after the kit's writes")
    async with sample.sessions() as session:
        found = await session.execute(text(
            "SELECT (SELECT count(*) FROM inbox WHERE message_id = :id) + "
            "(SELECT count(*) FROM outbox WHERE message_id = :id)"), {"id": message.message_id})
        assert found.scalar_one() == 0


async def test_batch_holding_a_message_and_its_redelivered_copy_handles_it_once(
    sample: Service,
) -> None:
    """A consumer stalled past ack_wait can fetch a message and its redelivery together: the
    inbox insert keeps one record, and the second copy must not run the handler again."""
    signal = make_signal("sig-twice")
    copies = [Msg(None, subject=s.subject_for(signal), data=encode(signal)) for _ in range(2)]
    batch = BatchTransaction("sample_signals", handle_signal, True, sample.sessions, WallClock(),
                             "sample")
    outcomes, uows = await batch.run([(msg, signal) for msg in copies])
    assert [o.kind for o in outcomes.values()] == ["ack", "ack"]
    assert len(uows) == 1
    assert await seen(sample, "sig-twice") == 1


async def test_message_not_yet_ready_comes_back_uncounted_until_its_handler_takes_it(
    bus: Bus, sample: Service
) -> None:
    """``NotYet`` is no failure: asked back more often than ``max_deliver`` failures would allow,
    the message is neither dead-lettered nor handled early, and is handled once when ready."""
    later = metrics.MESSAGES.labels("sample", "sample_signals", "later")
    later_before = later._value.get()
    await bus.publish(make_signal("sig-later", strategy="later"))
    await wait_until(lambda: seen(sample, "sig-later"), timeout=30, message="handled when ready")
    assert not_yet_asked["sig-later"] == NOT_YET_TIMES + 1 > sample.settings.max_deliver
    assert later._value.get() - later_before == NOT_YET_TIMES
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
    assert len(await decisions(bus)) == 1
    assert await seen(sample, "sig-later") == 1


async def test_batch_events_are_on_the_bus_before_sqlalchemy_ends_the_committed_transaction(
    bus: Bus, sample: Service
) -> None:
    """The next service waits for the events, not for SQLAlchemy's end of a transaction the kit
    has already committed: the relay has published them when the session's commit runs."""
    seen_at_commit: list[int] = []

    def on_commit(session: Session) -> None:
        if "robson.kit_transaction" in session.info:  # a consumer batch's transaction
            seen_at_commit.append(sample.relay.published)

    event.listen(Session, "after_commit", on_commit)
    try:
        await bus.publish(make_signal("sig-early"))
        await wait_until(lambda: _decisions_count(bus, 1), message="decision published")
    finally:
        event.remove(Session, "after_commit", on_commit)
    assert seen_at_commit == [1]


async def test_a_batch_sqlalchemy_commits_has_its_effects_and_events_only_after_its_commit(
    sample: Service,
) -> None:
    """Without the kit's own COMMIT (no inbox here: SQLAlchemy commits at the end of the
    transaction block), the in-memory effects and the publish still come after the COMMIT:
    never the effects or the events of a transaction that might yet fail to commit."""
    signal = make_signal("sqlalchemy-commits")
    committed_when: dict[str, list[int]] = {"effects": [], "publish": []}

    async def note(step: str) -> None:  # what another connection sees committed by then
        committed_when[step].append(await seen(sample, signal.signal_id))

    async def handler(message: Any, uow: UnitOfWork) -> None:
        await handle_signal(message, uow)
        uow.after_commit(lambda: note("effects"))

    async def publish(rows: list[Any]) -> None:
        await note("publish")

    batch = BatchTransaction("sample_signals", handler, False, sample.sessions, WallClock(),
                             "sample", publish=publish)
    msg = Msg(None, subject=s.subject_for(signal), data=encode(signal))
    outcomes, uows = await batch.run([(msg, signal)])
    assert outcomes[id(msg)].kind == "ack" and all(uow.published for uow in uows)
    assert committed_when == {"effects": [1], "publish": [1]}
