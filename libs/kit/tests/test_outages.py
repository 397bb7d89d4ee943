"""Infrastructure errors are not message failures: a database or NATS outage pauses the
consumer and loses nothing; only a message failing on its own merits is dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from fastapi import APIRouter
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from robson_contracts import DeadLetter, DecisionKind, SignalDetected, TradeDecision, derive_id
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.consumer import Consumer, ConsumerSpec
from robson_kit.db import make_engine, ping
from robson_kit.embedded import EmbeddedNats, EmbeddedPostgres
from robson_kit.outage import is_infrastructure_error
from robson_kit.service import Service
from robson_kit.testing import asgi_client, read_stream, unique_schema, wait_until
from robson_kit.testing.outage import outage_database
from robson_kit.uow import UnitOfWork
from sampleapp.app import SampleSettings, build, handle_signal
from sqlalchemy.exc import DBAPIError

from .test_messaging import make_signal, seen

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"


async def _counts(database_url: str, schema: str) -> tuple[int, int]:
    """(signals handled, the most times any one was handled)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, coalesce(max(times), 0) AS most FROM signal_counts")
        return row["n"], row["most"]
    finally:
        await conn.close()


async def _counts_reachable(database_url: str, schema: str) -> tuple[int, int] | None:
    try:
        return await _counts(database_url, schema)
    except (OSError, asyncpg.PostgresError):
        return None


async def test_database_down_past_the_retry_budget_pauses_consumer_and_loses_nothing(
    bus: Bus, nats_url: str, own_postgres: EmbeddedPostgres
) -> None:
    schema = unique_schema()
    service = await _sample_after(bus, 10, nats_url, own_postgres.url, schema)
    try:
        await asyncio.to_thread(own_postgres.stop)
        # Down far longer than 3 deliveries with backoff take: the old kit dead-lettered here.
        reported = await _paused_through(bus, service, 20, read_status=503, seconds=8)
        async with asgi_client(service) as client:
            await asyncio.to_thread(own_postgres.start)
            await wait_until(lambda: _handled(own_postgres.url, schema, 30), timeout=60,
                             message="all 30 handled after the restart")
            await wait_until(lambda: _ready(client), message="/readyz ok again")
            assert (await client.get("/seen/during-1")).json() == 1
        assert "sample_signals" in reported and "database" in reported
        assert await _counts(own_postgres.url, schema) == (30, 1)
        await wait_until(lambda: _decisions(bus, 30), message="30 decisions published")
        assert len(await read_stream(bus, s.ALL_DECISIONS)) == 30
        assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
    finally:
        await service.stop()


@pytest.mark.parametrize("read_only", [False, True], ids=["refusing connections", "read-only"])
async def test_database_refusing_writes_past_the_retry_budget_pauses_consumer_and_loses_nothing(
    bus: Bus, nats_url: str, database_url: str, read_only: bool
) -> None:
    """A failover's phases: the server is up but refuses the database (``ALLOW_CONNECTIONS
    false``; its error, 55000, has no connection class), or answers as a read-only standby
    (25006 on the first write; ``SELECT 1`` still passes). Every open connection is cut."""
    schema = unique_schema()
    async with outage_database(database_url) as db:
        service = await _sample_after(bus, 5, nats_url, db.url, schema)
        try:
            await (db.begin_read_only() if read_only else db.begin())
            # As after another task of the service met a cut connection first: SQLAlchemy then
            # drops the whole pool, so the consumer's next transaction is refused, not cut.
            await service.engine.dispose()
            # A read still works on a read-only database; a refused connection is a 503.
            reported = await _paused_through(bus, service, 10, read_status=200 if read_only else 503,
                                             seconds=6)
            await db.end()
            await wait_until(lambda: _handled(db.url, schema, 15), timeout=60,
                             message="all 15 handled once the database takes writes again")
            assert "database" in reported
            assert await _counts(db.url, schema) == (15, 1)
            assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
        finally:
            await service.stop()


async def test_database_refusing_connections_is_an_infrastructure_error(database_url: str) -> None:
    async with outage_database(database_url) as db:
        await db.begin()
        engine = make_engine(db.url, "public")  # no pooled connection: this one is refused
        try:
            with pytest.raises(DBAPIError) as refused:
                await ping(engine)
            assert "accepting connections" in str(refused.value)
            assert is_infrastructure_error(refused.value)
        finally:
            await engine.dispose()


async def test_nats_down_while_settling_loses_nothing_and_dead_letters_nothing(
    own_nats: EmbeddedNats, database_url: str, schema: str
) -> None:
    bus = await Bus(own_nats.url, name="pytest-own").connect()
    await bus.ensure_streams()
    stopped = asyncio.Event()

    async def stop_nats_mid_batch(signal: SignalDetected, uow: UnitOfWork) -> None:
        if signal.signal_id == "sig-3" and not stopped.is_set():
            stopped.set()
            await asyncio.to_thread(own_nats.stop)  # the batch commits, then settles into a void
        await handle_signal(signal, uow)

    service = Service(
        SampleSettings(nats_url=own_nats.url, database_url=database_url, db_schema=schema,
                       ack_wait_seconds=2, max_deliver=2),
        MIGRATIONS,
        consumers=[ConsumerSpec("sample_signals", s.SIGNALS, (s.ALL_SIGNALS,), stop_nats_mid_batch,
                                accepts=(SignalDetected,))],
    )
    for i in range(6):
        await bus.publish(make_signal(f"sig-{i}"))
    await service.start()
    try:
        await wait_until(lambda: _is_set(stopped), message="NATS stopped mid-batch")
        await asyncio.sleep(3)
        await asyncio.to_thread(own_nats.start)
        await wait_until(lambda: _decisions(bus, 6), timeout=60, message="6 decisions after NATS is back")
        await wait_until(lambda: _all_acked(bus, 6), timeout=30, message="every signal acked")
        assert [await seen(service, f"sig-{i}") for i in range(6)] == [1] * 6
        assert len(await read_stream(bus, s.ALL_DECISIONS)) == 6
        assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
    finally:
        await service.stop()
        await bus.close()


async def test_outbox_relay_waiting_on_nats_keeps_no_transaction_open(
    own_nats: EmbeddedNats, database_url: str, schema: str
) -> None:
    """While NATS does not answer, each publish waits for its timeout (5 s). No transaction of
    the service may stay open that long: the server aborts one idle for two lock checks, and a
    relay frozen meanwhile would hold rows its successor has to publish."""
    bus = await Bus(own_nats.url, name="pytest-own").connect()
    await bus.ensure_streams()
    service = Service(SampleSettings(nats_url=own_nats.url, database_url=database_url,
                                     db_schema=schema, outbox_poll_seconds=0.1), MIGRATIONS)
    await service.start()
    try:
        await asyncio.to_thread(own_nats.stop)
        committed = asyncio.create_task(_emit_a_decision(service))  # its publish waits
        longest = await _longest_idle_transaction(database_url, schema, seconds=12)
        assert longest < 1.0, f"a transaction stayed idle {longest:.1f}s while NATS was waited on"
        await asyncio.to_thread(own_nats.start)
        await committed
        await wait_until(lambda: _decisions(bus, 1), timeout=60, message="published once back")
        assert len(await read_stream(bus, s.ALL_DECISIONS)) == 1
    finally:
        await service.stop()
        await bus.close()


async def _emit_a_decision(service: Service) -> None:
    async with service.uow() as uow:
        uow.emit(TradeDecision(
            message_id=derive_id("relay-test"), occurred_at=datetime.now(UTC), account_id="acc1",
            decision_id="d-relay", trader_id="trader1", symbol="BTCUSDT",
            decision=DecisionKind.WATCH, confidence="0.5"))


async def _longest_idle_transaction(database_url: str, schema: str, seconds: float) -> float:
    """The longest a backend of the service was seen idle inside a transaction, over ``seconds``."""
    conn = await asyncpg.connect(database_url)
    longest = 0.0
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            idle = await conn.fetchval(
                "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0)"
                " FROM pg_stat_activity WHERE application_name = $1"
                " AND state = 'idle in transaction'", schema)
            longest = max(longest, float(idle))
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return longest


async def _at_the_last_delivery(bus: Bus, nats_url: str, database_url: str, schema: str,
                                signal_id: str) -> Service:
    """A sample service (not started) whose consumer allows 4 server deliveries, and a signal
    delivered 3 times without being settled, as if each delivery had killed the process: its
    next delivery is the server's last."""
    settings = SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                              max_deliver=2, max_deliver_margin=2)
    service = build(settings)
    consumer = Consumer(service.consumer_specs[0], bus, service.sessions, "sample",
                        max_deliver=2, max_deliver_margin=2)
    await consumer.provision()
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    assert info.config.max_deliver == 4
    await bus.publish(make_signal(signal_id))
    raw = await bus.js.pull_subscribe_bind("sample_signals", stream=s.SIGNALS.name)
    for _ in range(3):
        (msg,) = await raw.fetch(1, timeout=5)
        await msg.nak()
    await raw.unsubscribe()
    return service


async def test_message_at_the_server_delivery_limit_is_dead_lettered_unhandled(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    service = await _at_the_last_delivery(bus, nats_url, database_url, schema, "sig-crash")
    await service.start()
    try:
        letters: list[DeadLetter] = await wait_until(lambda: _letters(bus, 1), message="crash dead letter")
        assert letters[0].reason_code == "MAX_DELIVERIES_CRASH"
        assert letters[0].delivered_count == 4
        assert await seen(service, "sig-crash") == 0
    finally:
        await service.stop()


async def test_last_delivery_dead_letter_is_retried_when_its_publish_fails(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """On the server's last delivery a nak brings nothing back: a dead letter whose publish fails
    (NATS blinking) must be tried again, or the message is gone without a trace."""
    service = await _at_the_last_delivery(bus, nats_url, database_url, schema, "sig-last")
    failures = 2
    real_publish = service.bus.publish

    async def flaky_publish(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal failures
        if isinstance(message, DeadLetter) and failures:
            failures -= 1
            raise ConnectionError("nats blinked")
        return await real_publish(message, *args, **kwargs)

    service.bus.publish = flaky_publish  # type: ignore[method-assign]
    await service.start()
    try:
        letters: list[DeadLetter] = await wait_until(lambda: _letters(bus, 1), timeout=30,
                                                     message="the last delivery's dead letter")
        assert letters[0].reason_code == "MAX_DELIVERIES_CRASH" and failures == 0
    finally:
        await service.stop()


async def test_changed_consumer_config_updates_the_existing_durable_in_place(
    bus: Bus, database_url: str, schema: str
) -> None:
    service = build(SampleSettings(database_url=database_url, db_schema=schema))
    spec = service.consumer_specs[0]
    old = ConsumerSpec(spec.name, spec.stream, (s.signal("acc1", "BTCUSDT"),), spec.handler,
                       ack_wait_seconds=30)
    assert await Consumer(old, bus, service.sessions, "sample", max_deliver=8).provision() == "created"
    new = ConsumerSpec(spec.name, spec.stream, (s.ALL_SIGNALS,), spec.handler, ack_wait_seconds=5)
    consumer = Consumer(new, bus, service.sessions, "sample", max_deliver=3, max_deliver_margin=2)
    assert await consumer.provision() == "updated"
    info = await bus.js.consumer_info(s.SIGNALS.name, spec.name)
    assert (info.config.ack_wait, info.config.max_deliver) == (5, 5)
    assert (info.config.filter_subjects or [info.config.filter_subject]) == [s.ALL_SIGNALS]
    assert await consumer.provision() == "unchanged"


async def test_consumer_config_the_server_cannot_update_is_recreated_from_its_ack_floor(
    bus: Bus, database_url: str, schema: str
) -> None:
    service = build(SampleSettings(database_url=database_url, db_schema=schema))
    spec = service.consumer_specs[0]
    await bus.js.add_consumer(s.SIGNALS.name, ConsumerConfig(
        durable_name=spec.name, ack_policy=AckPolicy.ALL, deliver_policy=DeliverPolicy.ALL,
        filter_subjects=[s.ALL_SIGNALS]))
    for i in range(3):
        await bus.publish(make_signal(f"sig-{i}"))
    raw = await bus.js.pull_subscribe_bind(spec.name, stream=s.SIGNALS.name)
    msgs = await raw.fetch(2, timeout=5)
    await msgs[-1].ack_sync()  # AckPolicy.ALL: acknowledges both
    await raw.unsubscribe()
    consumer = Consumer(spec, bus, service.sessions, "sample")
    assert await consumer.provision() == "recreated"
    info = await bus.js.consumer_info(s.SIGNALS.name, spec.name)
    assert info.config.ack_policy == AckPolicy.EXPLICIT
    assert info.config.opt_start_seq == 3
    assert info.num_pending == 1


async def _handled(database_url: str, schema: str, n: int) -> bool:
    counts = await _counts_reachable(database_url, schema)
    return counts is not None and counts[0] >= n


async def _sample_after(bus: Bus, handled: int, nats_url: str, database_url: str,
                        schema: str) -> Service:
    """The sample service (``max_deliver=3``, and ``GET /seen/{signal_id}``, a route that reads
    the database), started, once it has handled ``handled`` signals published for it."""
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   ack_wait_seconds=2, max_deliver=3))
    router = APIRouter()

    @router.get("/seen/{signal_id}")
    async def seen_route(signal_id: str) -> int:
        return await seen(service, signal_id)

    service.routers.append(router)
    await service.start()
    try:
        for i in range(handled):
            await bus.publish(make_signal(f"before-{i}"))
        await wait_until(lambda: _handled(database_url, schema, handled),
                         message=f"first {handled} handled")
    except BaseException:  # the caller's ``finally`` only covers a service it got back
        await service.stop()
        raise
    return service


async def _paused_through(bus: Bus, service: Service, during: int, read_status: int,
                          seconds: float) -> str:
    """Publish ``during`` signals while the database is away; /readyz must report the consumer
    paused (returned) and still report it ``seconds`` later (far longer than 3 deliveries with
    backoff take); meanwhile ``GET /seen`` answers ``read_status``."""
    for i in range(during):
        await bus.publish(make_signal(f"during-{i}"))
    async with asgi_client(service) as client:
        reported: str = await wait_until(lambda: _paused(client),
                                         message="/readyz reports the consumer paused")
        read = await client.get("/seen/before-1")
        assert read.status_code == read_status, read.text
        await asyncio.sleep(seconds)
        assert await _paused(client) is not None
    return reported


async def _paused(client) -> str | None:  # type: ignore[no-untyped-def]
    """What /readyz says of the consumers while they are paused; None while they run."""
    consumers = (await client.get("/readyz")).json()["checks"]["consumers"]
    return consumers if consumers.startswith("paused") else None


async def _ready(client) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _decisions(bus: Bus, n: int) -> bool:
    try:
        return len(await read_stream(bus, s.ALL_DECISIONS)) >= n
    except Exception:
        return False


async def _letters(bus: Bus, n: int) -> list[DeadLetter] | None:
    letters = await read_stream(bus, s.ALL_DEAD_LETTERS)
    return letters if len(letters) >= n else None


async def _all_acked(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= n and info.num_ack_pending == 0


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()
