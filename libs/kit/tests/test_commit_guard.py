"""The commit guard (``robson_kit.commit_guard``) on a real service lock and engine: a fresh
confirmation costs nothing, a stale one is checked once on the lock's connection, and a lock
found gone refuses the commit and closes the fence — through SQLAlchemy's commit and through the
kit's own (``robson_kit.rawtx``) alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import pytest
from fastapi import APIRouter
from robson_kit.bus import Bus
from robson_kit.commit_guard import CommitGuard, LockNotConfirmed, install
from robson_kit.db import make_engine, make_sessionmaker
from robson_kit.fence import Fence
from robson_kit.outage import is_infrastructure_error
from robson_kit.rawtx import begin_with_inbox, commit_with_outbox
from robson_kit.service import Service
from robson_kit.service_lock import ServiceLock
from robson_kit.singleton import Singleton
from robson_kit.tables import messaging_metadata
from robson_kit.testing import asgi_client
from sampleapp.app import COUNT_SIGNAL, SampleSettings, build
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CHECK_SECONDS = 30.0
"""No periodic check during a test: a confirmation is made stale by hand."""
ADD = text("INSERT INTO things (id) VALUES (:id)")


@dataclass
class Guarded:
    sessions: async_sessionmaker[AsyncSession]
    lock: ServiceLock
    fence: Fence
    guard: CommitGuard
    checks: list[str]
    """Every query sent on the lock's connection since it was taken."""

    def make_stale(self) -> None:
        assert self.lock.confirmed_at is not None
        self.lock.confirmed_at -= 2 * self.guard.max_age

    async def things(self) -> list[int]:
        async with self.sessions() as session:
            return sorted((await session.execute(text("SELECT id FROM things"))).scalars())


@asynccontextmanager
async def _guarded(database_url: str, schema: str) -> AsyncIterator[Guarded]:
    engine = make_engine(database_url, schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(messaging_metadata.create_all)
        await conn.execute(text("CREATE TABLE things (id int PRIMARY KEY)"))
    lock = ServiceLock(f"guarded-{schema}", database_url, schema, CHECK_SECONDS)
    fence = Fence()
    singleton = Singleton(lock, fence)
    guard = CommitGuard(lock)
    install(engine, guard)
    guard.armed = True
    try:
        assert await singleton.claim()
        checks: list[str] = []
        assert lock.conn is not None
        lock.conn.add_query_logger(lambda query: checks.append(query.query))
        yield Guarded(make_sessionmaker(engine), lock, fence, guard, checks)
    finally:
        await singleton.release()
        await engine.dispose()


async def _sqlalchemy_commit(sessions: async_sessionmaker[AsyncSession], thing: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(ADD, {"id": thing})


async def _kit_commit(sessions: async_sessionmaker[AsyncSession], thing: int) -> None:
    async with sessions() as session, session.begin():
        inbox = [(uuid.uuid4(), "guarded", "robson.test")]
        assert await begin_with_inbox(session, inbox, "test.driver")
        await session.execute(ADD, {"id": thing})
        assert await commit_with_outbox(session, [])


COMMITS = pytest.mark.parametrize("commit", [_sqlalchemy_commit, _kit_commit],
                                  ids=["sqlalchemy", "kit"])
Commit = Callable[[async_sessionmaker[AsyncSession], int], Awaitable[None]]


@COMMITS
async def test_a_fresh_confirmation_lets_the_commit_through_without_a_round_trip(
    database_url: str, schema: str, commit: Commit
) -> None:
    async with _guarded(database_url, schema) as guarded:
        assert guarded.guard.fresh()
        await commit(guarded.sessions, 1)
        assert guarded.checks == []
        assert await guarded.things() == [1]


@COMMITS
async def test_a_stale_confirmation_is_checked_once_then_the_commits_proceed(
    database_url: str, schema: str, commit: Commit
) -> None:
    async with _guarded(database_url, schema) as guarded:
        guarded.make_stale()
        assert not guarded.guard.fresh()
        await asyncio.gather(commit(guarded.sessions, 1), commit(guarded.sessions, 2))
        assert len(guarded.checks) == 1 and "pg_locks" in guarded.checks[0], guarded.checks
        assert guarded.guard.fresh() and guarded.fence.held
        assert await guarded.things() == [1, 2]


@COMMITS
async def test_a_stale_confirmation_of_a_lock_gone_refuses_the_commit_and_closes_the_fence(
    database_url: str, schema: str, commit: Commit
) -> None:
    async with _guarded(database_url, schema) as guarded:
        assert guarded.lock.conn is not None
        # The lock passes to another session while this process is not looking (its own
        # connection stays open and answers).
        await guarded.lock.conn.execute("SELECT pg_advisory_unlock($1, $2)", *guarded.lock.key)
        successor = await asyncpg.connect(database_url)
        try:
            assert await successor.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                            *guarded.lock.key)
            guarded.make_stale()
            with pytest.raises(LockNotConfirmed, match="no longer holds it") as refused:
                await commit(guarded.sessions, 1)
            assert is_infrastructure_error(refused.value)
            assert not guarded.fence.held and "service lock lost" in guarded.fence.reason
            with pytest.raises(LockNotConfirmed):  # known lost: refused without asking again
                await commit(guarded.sessions, 2)
            assert len(guarded.checks) == 2, guarded.checks  # the unlock, one check
            assert await guarded.things() == []
        finally:
            await successor.close()


async def test_a_commit_that_wrote_nothing_needs_no_confirmation(
    database_url: str, schema: str
) -> None:
    """A read of an instance that lost its lock for a moment still answers (``app._serving``
    lets reads through); only a write needs the lock."""
    async with _guarded(database_url, schema) as guarded:
        guarded.make_stale()
        assert await guarded.things() == []  # a session closed without a commit
        async with guarded.sessions() as session, session.begin():
            await session.execute(text("SELECT count(*) FROM things"))
        assert guarded.checks == []
        await guarded.lock.release()  # not held at all now
        async with guarded.sessions() as session, session.begin():
            await session.execute(text("SELECT count(*) FROM things"))
        with pytest.raises(LockNotConfirmed, match="released"):
            await _sqlalchemy_commit(guarded.sessions, 1)


async def test_a_route_whose_commit_is_refused_answers_503(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """``bus``: the streams reset, so that the service's consumer counts no earlier test's
    signals beside the route's."""
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   lock_check_seconds=CHECK_SECONDS))
    router = APIRouter()

    @router.post("/signals/{signal_id}")
    async def count(signal_id: str) -> dict[str, str]:
        async with service.uow() as uow:
            await uow.execute(COUNT_SIGNAL, {"sid": signal_id})
        return {"counted": signal_id}

    service.routers.append(router)
    await service.start()
    try:
        async with asgi_client(service) as client:
            assert (await client.post("/signals/before")).status_code == 200
            await _lose_the_lock_unseen(service)
            refused = await client.post("/signals/after")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "LockNotConfirmed"
        assert not service.fence.held
        async with service.sessions() as session:
            counted = (await session.execute(text("SELECT signal_id FROM signal_counts"))).scalars()
            assert list(counted) == ["before"]
    finally:
        await service.stop()


async def _lose_the_lock_unseen(service: Service) -> None:
    """The lock passes away while this process is not looking (as after a freeze): its own
    connection gives it up and answers on, and the last confirmation is made stale."""
    lock = service.singleton.lock
    assert lock.conn is not None and lock.confirmed_at is not None
    await lock.conn.execute("SELECT pg_advisory_unlock($1, $2)", *lock.key)
    lock.confirmed_at -= 2 * service.commit_guard.max_age
