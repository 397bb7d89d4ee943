"""Deferred, keyed writes: hot handlers keep state in memory and persist it once per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


async def _writes_while_consuming(service: Service, bus: Bus, count: int) -> int:
    executed: list[str] = []

    def log_queries(dbapi_connection: Any, record: Any) -> None:  # sees the kit's raw asyncpg too
        dbapi_connection.driver_connection.add_query_logger(lambda q: executed.append(q.query))

    event.listen(service.engine.sync_engine, "connect", log_queries)
    await service.start()
    try:
        for i in range(count):
            await bus.publish(make_signal(f"mem-{i}"))

        async def all_acked() -> bool:
            return service.consumers[0].processed == count

        await wait_until(all_acked, message=f"{count} acked")
    finally:
        await service.stop()
    # Writes only (asyncpg's own type introspection reads), and not the outbox relay's periodic
    # sweep, which runs regardless: everything left is the consumer's.
    # The kit sends BEGIN with its inbox insert and COMMIT with its outbox insert, as one
    # query each: count the statements of a query, not the queries.
    statements = [part for sql in executed for part in sql.split(";")]
    writes = [sql for sql in statements if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    return sum("outbox" not in sql for sql in writes)


def _remembering_service(database_url: str, nats_url: str, schema: str, name: str,
                         seen: list[str], **options: Any) -> Service:
    """A service whose one consumer notes each signal id it handles."""

    async def remember(signal: SignalDetected, uow: UnitOfWork) -> None:
        seen.append(signal.signal_id)

    spec = ConsumerSpec(name, s.SIGNALS, (s.ALL_SIGNALS,), remember, accepts=(SignalDetected,),
                        **options)
    return Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                   MIGRATIONS, consumers=[spec])


async def test_idempotent_memory_only_consumer_touches_no_table_per_message(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    seen: list[str] = []

    def service(record_inbox: bool) -> Service:
        return _remembering_service(database_url, nats_url, schema, f"memory_{record_inbox}", seen,
                                    record_inbox=record_inbox)

    without_inbox = await _writes_while_consuming(service(False), bus, 10)
    assert seen == [f"mem-{i}" for i in range(10)]
    await reset_streams(bus)
    with_inbox = await _writes_while_consuming(service(True), bus, 10)
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


async def test_consumer_acks_unwanted_messages_without_handler_or_transaction(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    seen: list[str] = []
    service = _remembering_service(database_url, nats_url, schema, "choosy", seen,
                                   wants=lambda signal: signal.signal_id == "mem-3")
    writes = await _writes_while_consuming(service, bus, 10)  # all 10 acked
    assert seen == ["mem-3"]
    assert writes == 1  # the wanted message's inbox record; the other nine cost nothing
