"""Review of the commit guard (``robson_kit.commit_guard``): a consumer batch the guard refuses
is held uncounted and handled exactly once later — its after-commit effects included — and a
committer cancelled while it waits on the shared lock check leaves that check to the others."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from robson_contracts import SignalDetected
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.commit_guard import LockNotConfirmed
from robson_kit.testing import read_stream, wait_until
from robson_kit.uow import UnitOfWork
from sampleapp.app import SampleSettings, build
from sqlalchemy import text

from .test_commit_guard import CHECK_SECONDS, _guarded, _lose_the_lock_unseen, _sqlalchemy_commit
from .test_messaging import make_signal, seen


async def test_batch_split_whose_later_commit_the_guard_refuses_keeps_the_earlier_commits_after_commit_effects(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """A backlog [ok-1, poison, ok-2] is split after the poison fails the batch; ok-1 commits
    alone, then the lock is found gone when ok-2 commits (the guard refuses it). Every message
    is held uncounted and comes back once the lock is taken again: ok-1's copy is a duplicate
    (the inbox drops it), so the after-commit work of its committed transaction (an in-memory
    index, say) must have run then — or it never will, while the process resumes on its state
    (the tenure follows its own: nobody else held the lock)."""
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   lock_check_seconds=CHECK_SECONDS, ack_wait_seconds=2,
                                   max_deliver=3))
    spec = service.consumer_specs[0]
    applied: list[str] = []
    lost: list[str] = []

    async def handler(signal: SignalDetected, uow: UnitOfWork) -> None:
        if signal.strategy == "poison" and len(uow.batch) == 1 and not lost:
            await _lose_the_lock_unseen(service)  # between ok-1's commit and ok-2's
            lost.append(signal.signal_id)
        await spec.handler(signal, uow)
        uow.after_commit(lambda: applied.append(signal.signal_id))

    service.consumer_specs[0] = dataclasses.replace(spec, handler=handler)
    for signal_id, strategy in (("ok-1", "ema_cross"), ("poison", "poison"), ("ok-2", "ema_cross")):
        await bus.publish(make_signal(signal_id, strategy=strategy))
    await service.start()  # after the backlog: one batch
    try:
        async def settled() -> bool:
            return len(await read_stream(bus, s.ALL_DEAD_LETTERS)) == 1 \
                and await seen(service, "ok-2") == 1

        await wait_until(settled, timeout=30, message="ok-2 counted, poison dead-lettered")
        consumer = service.consumers[0]

        async def drained() -> bool:
            info = await service.bus.js.consumer_info(s.SIGNALS.name, consumer.spec.name)
            return info.num_ack_pending == 0 and info.num_pending == 0

        await wait_until(drained, timeout=30, message="every message settled")
        assert lost, "the lock was never lost between the split's commits"
        assert service.fence.held and service.halted is None  # resumed on its own state
        assert (await seen(service, "ok-1"), await seen(service, "ok-2")) == (1, 1)
        assert sorted(applied) == ["ok-1", "ok-2"], (
            f"after-commit effects run: {applied} (ok-1 committed, then its batch was held "
            "whole: its after-commit never ran, and its redelivery is a duplicate)")
    finally:
        await service.stop()


async def test_committer_cancelled_while_waiting_for_the_shared_lock_check_leaves_it_to_the_others(
    database_url: str, schema: str
) -> None:
    """Guard (passes): eight writers find the confirmation stale at once; they share one check
    on the lock's connection, and cancelling one of them while it waits neither cancels that
    check nor refuses the others' commits."""
    async with _guarded(database_url, schema) as guarded:
        guarded.make_stale()
        gate = asyncio.Event()
        original = guarded.lock._confirm

        async def slow_confirm(*args: object) -> bool:
            await gate.wait()  # the check is in flight until the test lets it answer
            return await original(*args)  # type: ignore[arg-type]

        guarded.lock._confirm = slow_confirm  # type: ignore[method-assign]
        writers = [asyncio.create_task(_sqlalchemy_commit(guarded.sessions, i)) for i in range(8)]
        await wait_until(lambda: guarded.lock._confirming is not None, message="a check in flight")
        await asyncio.sleep(0.1)  # every writer waits on it
        writers[0].cancel()
        await asyncio.sleep(0.05)
        assert guarded.lock._confirming is not None and not guarded.lock._confirming.done()
        gate.set()
        results = await asyncio.gather(*writers, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert results[1:] == [None] * 7, results
        assert len(guarded.checks) == 1 and "pg_locks" in guarded.checks[0], guarded.checks
        assert guarded.fence.held and guarded.guard.fresh()
        assert await guarded.things() == list(range(1, 8))
        async with guarded.sessions() as session:  # the cancelled writer left nothing behind
            assert (await session.execute(text("SELECT count(*) FROM things WHERE id = 0"))
                    ).scalar_one() == 0


async def test_release_while_a_stale_commit_waits_on_the_lock_check_refuses_that_commit(
    database_url: str, schema: str
) -> None:
    """Guard (passes): the lock is released (a stop, a halt) while a writer waits on a check in
    flight that will never answer: the check is cancelled, the writer is refused at once
    (nothing committed), and release does not wait for the check."""
    async with _guarded(database_url, schema) as guarded:
        guarded.make_stale()
        never = asyncio.Event()

        async def silent_confirm(*_: object) -> bool:
            await never.wait()
            return True

        guarded.lock._confirm = silent_confirm  # type: ignore[method-assign]
        writer = asyncio.create_task(_sqlalchemy_commit(guarded.sessions, 1))
        await wait_until(lambda: guarded.lock._confirming is not None, message="a check in flight")
        await asyncio.wait_for(guarded.lock.release(), 5)
        with pytest.raises(LockNotConfirmed):
            await asyncio.wait_for(writer, 5)
        assert guarded.lock._confirming is None and not guarded.guard.fresh()
        assert await guarded.things() == []
