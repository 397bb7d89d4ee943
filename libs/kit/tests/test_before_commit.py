"""Deferred, keyed writes: hot handlers keep state in memory and persist it once per batch."""

from __future__ import annotations

from pathlib import Path

from robson_contracts import SignalDetected
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.consumer import ConsumerSpec
from robson_kit.service import Service
from robson_kit.testing import reset_streams, wait_until
from robson_kit.uow import UnitOfWork
from sampleapp.app import COUNT_SIGNAL, SampleSettings, times_seen
from sqlalchemy import event

from .test_messaging import make_signal

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"


class Tally:
    """Counts signals in memory; the count reaches the database through one deferred write."""

    def __init__(self) -> None:
        self.seen = 0
        self.writes = 0

    async def handle(self, signal: SignalDetected, uow: UnitOfWork) -> None:
        self.seen += 1
        uow.before_commit("tally", self.persist)

    async def persist(self, uow: UnitOfWork) -> None:
        self.writes += 1
        await uow.execute(COUNT_SIGNAL, {"sid": "tally"})


async def test_batch_of_signals_with_keyed_deferred_write_persists_once_per_transaction(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    for i in range(20):
        await bus.publish(make_signal(f"sig-{i}"))
    tally = Tally()
    spec = ConsumerSpec("tally_signals", s.SIGNALS, (s.ALL_SIGNALS,), tally.handle,
                        accepts=(SignalDetected,))
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, consumers=[spec])
    await service.start()
    try:
        async def all_acked() -> bool:
            return service.consumers[0].processed == 20

        await wait_until(all_acked, message="20 acked")
        async with service.uow() as uow:
            persisted = await times_seen(uow, "tally")
    finally:
        await service.stop()
    assert tally.seen == 20
    assert persisted == tally.writes  # each transaction wrote exactly once...
    assert 1 <= tally.writes < 20  # ...and the backlog was handled in batches, not per message


async def _statements_while_consuming(service: Service, bus: Bus, count: int) -> int:
    executed: list[str] = []
    event.listen(service.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: executed.append(statement))
    await service.start()
    try:
        for i in range(count):
            await bus.publish(make_signal(f"mem-{i}"))

        async def all_acked() -> bool:
            return service.consumers[0].processed == count

        await wait_until(all_acked, message=f"{count} acked")
    finally:
        await service.stop()
    # The outbox relay's periodic sweep runs regardless; everything else is the consumer's.
    relay = ("outbox", "synchronous_commit")
    return sum(not any(word in sql for word in relay) for sql in executed)


async def test_idempotent_memory_only_consumer_touches_no_table_per_message(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    seen: list[str] = []

    async def remember(signal: SignalDetected, uow: UnitOfWork) -> None:
        seen.append(signal.signal_id)

    def service(record_inbox: bool) -> Service:
        spec = ConsumerSpec(f"memory_{record_inbox}", s.SIGNALS, (s.ALL_SIGNALS,), remember,
                            accepts=(SignalDetected,), record_inbox=record_inbox)
        return Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                       MIGRATIONS, consumers=[spec])

    without_inbox = await _statements_while_consuming(service(False), bus, 10)
    assert seen == [f"mem-{i}" for i in range(10)]
    await reset_streams(bus)
    with_inbox = await _statements_while_consuming(service(True), bus, 10)
    assert without_inbox == 0
    assert with_inbox >= 1  # the control: the same consumer with an inbox records each batch


async def test_deferred_write_registering_another_runs_both_before_commit(sample: Service) -> None:
    ran: list[str] = []

    async def second(uow: UnitOfWork) -> None:
        ran.append("second")

    async def first(uow: UnitOfWork) -> None:
        ran.append("first")
        uow.before_commit("second", second)

    async with sample.uow() as uow:
        uow.before_commit("first", first)
    assert ran == ["first", "second"]
