"""At most one process per service runs against a database: each takes a session-level advisory
lock keyed by its service name, on a dedicated connection, before it loads state, consumes or
runs its loops; it stops all of that the moment the lock's connection is lost.

The tests compute the lock's key themselves, from the documented derivation, and watch the lock
in ``pg_locks`` from connections of their own."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from fastapi import APIRouter
from robson_kit.bus import Bus
from robson_kit.embedded import EmbeddedPostgres
from robson_kit.service import Service
from robson_kit.testing import asgi_client, unique_schema, wait_until
from sampleapp.app import SampleSettings, build

from .test_messaging import make_signal

NAMESPACE = 0x524F4253  # "ROBS": the kit's classid in the two-key advisory lock space
KEY = (NAMESPACE, int.from_bytes(hashlib.sha256(b"sample").digest()[:4], "big") & 0x7FFF_FFFF)
HOLDER = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2"
          " AND objsubid = 2 AND granted")


def _sample(nats_url: str, database_url: str, schema: str, loaded: list[str], label: str,
            ticks: list[int] | None = None) -> Service:
    """The sample service, recording when it loads its state; ``ticks`` counts a loop's turns."""
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   ack_wait_seconds=2, max_deliver=3, lock_check_seconds=0.2,
                                   lock_retry_max_seconds=0.5))

    async def load_state(_: Service) -> None:
        loaded.append(label)

    async def tick(_: Service) -> None:
        assert ticks is not None
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.02)

    service.on_start.append(load_state)
    if ticks is not None:
        service.background.append(tick)
    return service


async def _query(database_url: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _holder(database_url: str) -> int | None:
    return await _query(database_url, HOLDER, *KEY)  # type: ignore[return-value]


async def _handled(database_url: str, schema: str) -> tuple[int, int]:
    """(signals handled, the most times any one was handled)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, coalesce(max(times), 0) AS most"
                                  " FROM signal_counts")
        return row["n"], row["most"]
    finally:
        await conn.close()


async def _handled_at_least(database_url: str, schema: str, n: int) -> bool:
    try:
        return (await _handled(database_url, schema))[0] >= n
    except (OSError, asyncpg.PostgresError):
        return False


async def _publish(bus: Bus, prefix: str, n: int) -> None:
    for i in range(n):
        await bus.publish(make_signal(f"{prefix}-{i}"))


async def _readiness(service: Service) -> tuple[int, dict[str, str]]:
    async with asgi_client(service) as client:
        ready = await client.get("/readyz")
        return ready.status_code, ready.json()["checks"]


async def _ready(service: Service) -> bool:
    return (await _readiness(service))[0] == 200


async def _lock_check(service: Service) -> str | None:
    """What /readyz says of the lock while it is not held (503); None while it is."""
    status, checks = await _readiness(service)
    lock = checks.get("lock", "ok")
    return None if lock == "ok" else f"{status}: {lock}"


@asynccontextmanager
async def _two_instances(nats_url: str, database_url: str, schema: str,
                         prepare_second: Callable[[Service], None] | None = None,
                         ) -> AsyncIterator[tuple[Service, Service, list[str]]]:
    """Two instances of the sample service, the first started first (so it takes the lock);
    ``loaded`` records which loaded its state. Both stopped at the end (a second stop of one
    already stopped is harmless)."""
    loaded: list[str] = []
    first = _sample(nats_url, database_url, schema, loaded, "first")
    second = _sample(nats_url, database_url, schema, loaded, "second")
    if prepare_second is not None:
        prepare_second(second)
    await first.start()
    try:
        await second.start()  # returns: its HTTP server must answer probes while it waits
        try:
            yield first, second, loaded
        finally:
            await second.stop()
    finally:
        await first.stop()


@asynccontextmanager
async def _lock_taken_away(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Cut the holder's lock connection, as a Postgres restart or a network cut would, and keep
    the lock on a connection of the test's own (queued before the cut, so it is granted first)
    until the block ends."""
    holder = await _holder(database_url)
    assert holder is not None, "no process holds the sample service's lock"
    thief = await asyncpg.connect(database_url)
    try:
        queued = asyncio.create_task(thief.fetchval("SELECT pg_advisory_lock($1, $2)", *KEY))
        await wait_until(lambda: _query(database_url, "SELECT count(*) FROM pg_locks WHERE"
                                        " locktype = 'advisory' AND objid = $1 AND NOT granted",
                                        KEY[1]), message="the test's lock request queued")
        assert await _query(database_url, "SELECT pg_terminate_backend($1)", holder)
        await asyncio.wait_for(queued, 10)
        yield thief
    finally:
        await thief.close()


async def test_lock_key_is_derived_from_the_service_name_alone() -> None:
    from robson_kit.service_lock import lock_key

    assert lock_key("sample") == KEY
    assert lock_key("position") == (1380926035, 1514480729)  # pinned: never changes
    assert len({lock_key(name)[1] for name in ("signal", "decision", "entry_gate", "position",
                                               "execution", "paper", "notify", "dashboard")}) == 8


async def test_second_instance_of_a_service_waits_while_the_first_holds_the_lock(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    async with _two_instances(nats_url, database_url, schema) as (first, second, loaded):
        await _publish(bus, "sig", 5)
        await wait_until(lambda: _handled_at_least(database_url, schema, 5), message="5 handled")
        await asyncio.sleep(1.5)  # the second has retried several times by now
        status, checks = await _readiness(second)
        assert status == 503
        assert "another instance" in checks["lock"] and "sample" in checks["lock"], checks
        assert checks["consumers"].startswith("paused"), checks
        async with asgi_client(second) as client:  # alive, only not ready: no restart loop
            assert (await client.get("/healthz")).status_code == 200
        status, checks = await _readiness(first)
        assert status == 200 and checks["lock"] == "ok", checks
        # The second loaded no state, consumes nothing and runs no loop (no relay either).
        assert loaded == ["first"]
        assert second.consumers == [] and second.supervisor.loops == {}
        assert await _handled(database_url, schema) == (5, 1)
        assert await _holder(database_url) is not None


async def test_instance_that_loses_its_lock_connection_stops_consuming_until_it_holds_it_again(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    loaded: list[str] = []
    ticks = [0]
    service = _sample(nats_url, database_url, schema, loaded, "only", ticks)
    await service.start()
    try:
        await _publish(bus, "before", 3)
        await wait_until(lambda: _handled_at_least(database_url, schema, 3), message="3 handled")
        async with _lock_taken_away(database_url):
            lost = await wait_until(lambda: _lock_check(service), message="/readyz: lock lost")
            # Lost, then (as it tries again) held by the test's connection.
            assert lost.startswith("503: service lock lost") or (
                lost.startswith("503: another instance of sample holds the lock")), lost
            await asyncio.sleep(0.3)  # cancelled work winds down
            frozen = ticks[0]
            await _publish(bus, "during", 5)
            await asyncio.sleep(2.5)
            assert await _handled(database_url, schema) == (3, 1), "consumed without the lock"
            assert ticks[0] == frozen, "a loop ran without the lock"
            status, checks = await _readiness(service)
            assert status == 503 and checks["consumers"].startswith("paused"), checks
        # The lock is free again: taken back first, then consuming and the loops resume, on the
        # state loaded once (nobody else acted meanwhile).
        await wait_until(lambda: _handled_at_least(database_url, schema, 8), message="8 handled")
        await wait_until(lambda: _ready(service), message="ready again")
        assert ticks[0] > frozen
        assert await _handled(database_url, schema) == (8, 1)
        assert loaded == ["only"]
        assert await _holder(database_url) is not None
    finally:
        await service.stop()


async def test_waiting_instance_takes_over_when_the_first_stops(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    async with _two_instances(nats_url, database_url, schema) as (first, second, loaded):
        await _publish(bus, "first", 2)
        await wait_until(lambda: _handled_at_least(database_url, schema, 2), message="2 handled")
        assert await _lock_check(second) is not None and loaded == ["first"]
        await first.stop()
        await wait_until(lambda: _ready(second), message="the second ready once the first stopped")
        assert loaded == ["first", "second"]  # it loads its state only once it holds the lock
        await _publish(bus, "second", 3)
        await wait_until(lambda: _handled_at_least(database_url, schema, 5), message="5 handled")
        assert await _handled(database_url, schema) == (5, 1)
        assert [c.spec.name for c in second.consumers] == ["sample_signals"]
    assert await _holder(database_url) is None  # stopping releases the lock


async def test_instance_that_took_the_lock_is_not_ready_until_its_state_has_loaded(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    loading = asyncio.Event()

    async def slow_load(_: Service) -> None:
        await loading.wait()

    async with _two_instances(nats_url, database_url, schema,
                              lambda second: second.on_start.insert(0, slow_load)
                              ) as (first, second, loaded):
        try:
            await first.stop()
            await wait_until(lambda: _holder_is_not(database_url, None),
                             message="the second holds the lock")
            await asyncio.sleep(0.3)
            status, checks = await _readiness(second)
            assert status == 503 and checks["lock"] == "ok", checks
            assert checks["consumers"].startswith("starting"), checks
            assert loaded == ["first"]
            loading.set()
            await wait_until(lambda: _ready(second), message="ready once its state loaded")
            assert loaded == ["first", "second"]
        finally:
            loading.set()


async def _holder_is_not(database_url: str, pid: int | None) -> bool:
    return await _holder(database_url) != pid


async def test_instance_that_lost_its_lock_to_one_that_acted_meanwhile_halts_instead_of_resuming(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """Its in-memory state may miss what the other did: it must not resume on it. It gives the
    lock up, stays fenced and fails /healthz, so Kubernetes restarts it (state reloaded)."""
    loaded: list[str] = []
    first = _sample(nats_url, database_url, schema, loaded, "first")
    await first.start()
    try:
        await _publish(bus, "before", 1)
        await wait_until(lambda: _handled_at_least(database_url, schema, 1), message="1 handled")
        async with _lock_taken_away(database_url) as other:
            # What another instance does when it takes the lock: it starts a tenure of its own.
            await other.execute(f'UPDATE "{schema}".service_lock_tenure SET tenure = tenure + 1,'
                                " holder = 'another instance' WHERE service = 'sample'")
        async with asgi_client(first) as client:
            health = await wait_until(lambda: _unhealthy(client), message="/healthz fails")
        assert "another instance" in health["reason"], health
        await _publish(bus, "after", 2)
        await asyncio.sleep(1.5)
        assert await _handled(database_url, schema) == (1, 1)
        assert await _holder(database_url) is None  # given up, for a fresh instance to take
        fresh = _sample(nats_url, database_url, schema, loaded, "fresh")
        await fresh.start()
        try:
            await wait_until(lambda: _handled_at_least(database_url, schema, 3), message="3 handled")
            assert loaded == ["first", "fresh"]
        finally:
            await fresh.stop()
    finally:
        await first.stop()


async def _unhealthy(client) -> dict[str, str] | None:  # type: ignore[no-untyped-def]
    health = await client.get("/healthz")
    return health.json() if health.status_code == 503 else None


async def test_after_a_database_restart_the_service_takes_its_lock_again_before_resuming(
    bus: Bus, nats_url: str, own_postgres: EmbeddedPostgres
) -> None:
    schema = unique_schema()
    loaded: list[str] = []
    ticks = [0]
    service = _sample(nats_url, own_postgres.url, schema, loaded, "only", ticks)
    await service.start()
    try:
        await _publish(bus, "before", 2)
        await wait_until(lambda: _handled_at_least(own_postgres.url, schema, 2), message="2 handled")
        await asyncio.to_thread(own_postgres.stop)
        lost = await wait_until(lambda: _lock_check(service), message="/readyz: lock lost")
        assert lost.startswith("503") and "database" in lost, lost
        await asyncio.sleep(0.3)
        frozen = ticks[0]
        await asyncio.sleep(1.0)
        assert ticks[0] == frozen, "a loop ran without the lock"
        await _publish(bus, "during", 3)
        await asyncio.to_thread(own_postgres.start)
        await wait_until(lambda: _handled_at_least(own_postgres.url, schema, 5), timeout=60,
                         message="all 5 handled after the restart")
        assert await _holder(own_postgres.url) is not None
        tenure = await _query(own_postgres.url, f'SELECT tenure FROM "{schema}".service_lock_tenure')
        assert tenure == 2  # the same process's second tenure: nobody acted in between
        assert await _handled(own_postgres.url, schema) == (5, 1) and loaded == ["only"]
    finally:
        await service.stop()


async def test_start_up_longer_than_the_servers_idle_timeout_keeps_the_lock(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """The lock is checked from the moment it is taken, so the server's ``idle_session_timeout``
    on its session (5 checks: 1 s here) does not end it while the state loads."""
    loaded: list[str] = []
    service = _sample(nats_url, database_url, schema, loaded, "slow")

    async def load_slowly(_: Service) -> None:
        await asyncio.sleep(2.5)

    service.on_start.insert(0, load_slowly)
    await service.start()
    try:
        assert await _ready(service)
        await _publish(bus, "sig", 2)
        await wait_until(lambda: _handled_at_least(database_url, schema, 2), message="2 handled")
        tenure = await _query(database_url, f'SELECT tenure FROM "{schema}".service_lock_tenure')
        assert tenure == 1 and await _holder(database_url) is not None
    finally:
        await service.stop()


def _with_routes(nats_url: str, database_url: str, schema: str, label: str,
                 writes: list[str]) -> Service:
    """The sample service with a read and a write route, as a service's API has (the write
    records who ran it)."""
    service = _sample(nats_url, database_url, schema, [], label)
    router = APIRouter()

    @router.get("/things")
    async def things() -> dict[str, int]:
        return {"writes": len(writes)}

    @router.post("/things")
    async def add_thing() -> dict[str, str]:
        writes.append(service.name)
        return {"added": "1"}

    service.routers.append(router)
    return service


async def test_waiting_instance_refuses_its_routes_until_it_holds_the_lock(
    nats_url: str, database_url: str, schema: str
) -> None:
    writes: list[str] = []
    first = _with_routes(nats_url, database_url, schema, "first", writes)
    second = _with_routes(nats_url, database_url, schema, "second", writes)
    await first.start()
    try:
        await second.start()
        try:
            async with asgi_client(second) as client:
                write = await client.post("/things")
                read = await client.get("/things")
            for refused in (write, read):
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"] == "1"
                assert "not serving" in refused.json()["detail"]
                assert "another instance" in refused.json()["detail"], refused.json()
            assert writes == []  # the refused write never ran
            async with asgi_client(first) as client:
                assert (await client.post("/things")).status_code == 200
            assert len(writes) == 1
            await first.stop()
            await wait_until(lambda: _ready(second), message="the second ready once the first stopped")
            async with asgi_client(second) as client:
                assert (await client.post("/things")).status_code == 200
                assert (await client.get("/things")).json() == {"writes": 2}
        finally:
            await second.stop()
    finally:
        await first.stop()


async def test_instance_that_lost_its_lock_keeps_answering_reads_but_refuses_writes(
    nats_url: str, database_url: str, schema: str
) -> None:
    writes: list[str] = []
    service = _with_routes(nats_url, database_url, schema, "only", writes)
    await service.start()
    try:
        async with asgi_client(service) as client:
            assert (await client.post("/things")).status_code == 200
            async with _lock_taken_away(database_url):
                await wait_until(lambda: _lock_check(service), message="/readyz: lock lost")
                write = await client.post("/things")
                read = await client.get("/things")
                assert write.status_code == 503 and "not serving" in write.json()["detail"]
                assert read.status_code == 200 and read.json() == {"writes": 1}  # its state
                assert writes == ["sample"]
            await wait_until(lambda: _ready(service), message="ready again")
            assert (await client.post("/things")).status_code == 200
        assert len(writes) == 2
    finally:
        await service.stop()
