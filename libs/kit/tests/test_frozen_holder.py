"""A holder frozen (SIGSTOP, a VM pause, a GC or swap stall) inside a consumer's transaction.

Its lock's session ends on the server's ``idle_session_timeout`` and a waiting instance takes
over; the frozen transaction must not outlive that: left open it keeps the message's inbox row
locked (the successor's redelivery waits behind it for as long as the freeze lasts), and once
woken the old process would commit it without the lock, behind the back of a successor that
has loaded its state already. Two real processes of the sample service; the first stops itself
(``ROBSON_FAULTS=batch.before_commit:stop``) after its handler ran, before its commit."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from robson_contracts import SignalDetected
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ServiceProcess, read_stream, wait_until
from robson_kit.uow import UnitOfWork
from sampleapp.app import SampleSettings, build, handle_signal

from .black_hole import black_hole_proxy
from .conftest import sample_env
from .test_messaging import _probe, make_signal

LOCK_CHECK_SECONDS = 0.5
"""The lock's session ends after 2.5 s without a check: a quick takeover."""


def _frozen_env(nats_url: str, database_url: str, schema: str) -> dict[str, str]:
    return {**sample_env(nats_url, database_url, schema),  # ack_wait 2 s: a quick redelivery
            "ROBSON_SAMPLE_LOCK_CHECK_SECONDS": str(LOCK_CHECK_SECONDS),
            "ROBSON_SAMPLE_LOCK_RETRY_MAX_SECONDS": "0.5"}


@contextmanager
def _processes() -> Iterator[list[ServiceProcess]]:
    """Every process started is SIGKILLed at the end, a stopped (frozen) one included."""
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.kill()


def _stopped(proc: ServiceProcess) -> bool:
    """The process is stopped by a signal (state ``T`` in ``/proc/<pid>/stat``)."""
    assert proc.proc is not None
    stat = Path(f"/proc/{proc.proc.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


async def _get(proc: ServiceProcess, path: str) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=2) as client:
            return await client.get(path)
    except httpx.HTTPError:
        return None


async def _lock_check(proc: ServiceProcess) -> str | None:
    """What ``/readyz`` says of the lock while the process does not hold it; None while it does
    (or does not answer yet)."""
    ready = await _get(proc, "/readyz")
    if ready is None:
        return None
    lock = ready.json()["checks"].get("lock", "ok")
    return None if lock == "ok" else lock


async def _holder_and_waiting_successor(
    started: list[ServiceProcess], env: dict[str, str], holder_env: dict[str, str], tmp_path: Path
) -> tuple[ServiceProcess, ServiceProcess]:
    """The holder (with ``holder_env`` on top of ``env``) started and holding the lock, and a
    successor started after it, waiting for the lock."""
    holder = ServiceProcess("sampleapp", {**env, **holder_env}, "ROBSON_SAMPLE_HTTP_PORT",
                            tmp_path / "holder.log")
    started.append(holder.start())
    successor = ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT",
                               tmp_path / "successor.log")
    started.append(successor.start(ready=False))
    waiting = await wait_until(lambda: _lock_check(successor), message="the successor waits")
    assert "another instance of sample holds the lock" in waiting, waiting
    return holder, successor


async def _halted(proc: ServiceProcess) -> str | None:
    health = await _get(proc, "/healthz")
    return health.json()["reason"] if health is not None and health.status_code == 503 else None


async def _decisions(bus: Bus) -> int:
    return len(await read_stream(bus, s.ALL_DECISIONS))


async def _acked(bus: Bus) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= 1 and info.num_ack_pending == 0


async def test_holder_frozen_inside_a_transaction_is_fenced_and_the_successor_processes_its_message(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path: Path
) -> None:
    env = _frozen_env(nats_url, database_url, schema)
    probe = _probe(database_url, schema)
    with _processes() as started:
        holder, successor = await _holder_and_waiting_successor(
            started, env, {"ROBSON_FAULTS": "batch.before_commit:stop"}, tmp_path)

        await bus.publish(make_signal("sig-frozen"))
        await wait_until(lambda: _stopped(holder), message="the holder frozen in its transaction")

        # The successor takes the lock and handles the redelivered message while the holder
        # stays frozen, its transaction still open on its side.
        await wait_until(lambda: _acked(bus), timeout=20,
                         message="the message handled and acked by the successor")
        assert await _lock_check(successor) is None
        assert _stopped(holder)
        assert await probe("SELECT times FROM signal_counts WHERE signal_id = 'sig-frozen'") == 1
        assert await probe("SELECT count(*) FROM inbox") == 1
        await wait_until(lambda: _decisions(bus), message="its decision published")

        # Woken, the holder commits nothing (its transaction was aborted) and acts no more.
        assert holder.proc is not None
        os.kill(holder.proc.pid, signal.SIGCONT)
        lost = await wait_until(lambda: _lock_check(holder), message="the woken holder fenced")
        assert "another instance of sample holds the lock" in lost or "lost" in lost, lost
        await asyncio.sleep(2 * LOCK_CHECK_SECONDS + 1.0)  # time enough to commit, if it could
        assert await probe("SELECT times FROM signal_counts WHERE signal_id = 'sig-frozen'") == 1
        assert await probe("SELECT count(*) FROM inbox") == 1
        assert await _decisions(bus) == 1

        # Given the lock back, it finds another instance held it meanwhile and halts.
        successor.stop()
        reason = await wait_until(lambda: _halted(holder), message="the old holder halted")
        assert "another instance of sample held the lock" in reason, reason
        assert await probe("SELECT times FROM signal_counts WHERE signal_id = 'sig-frozen'") == 1


async def _holds_lock(proc: ServiceProcess) -> bool:
    ready = await _get(proc, "/readyz")
    return ready is not None and ready.json()["checks"].get("lock") == "ok"


async def _counted(database_url: str, schema: str, ids: list[str]) -> dict[str, tuple[int, int]]:
    """signal id → (times counted, pid of the process that counted it last)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch("SELECT signal_id, times, handled_by FROM signal_counts"
                                " WHERE signal_id = any($1::text[])", ids)
    finally:
        await conn.close()
    return {row["signal_id"]: (row["times"], row["handled_by"]) for row in rows}


async def _all_settled(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= n and info.num_ack_pending == 0


WOKEN_SIGNALS = 10


async def test_holder_frozen_between_transactions_with_a_silent_lock_connection_commits_nothing_once_woken(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path: Path
) -> None:
    """Frozen while idle, the holder has no transaction for the server to abort; its lock passes
    to the successor. Once woken, its fence stays open until its next check fails, and with the
    lock's connection silent (its network path dropping everything: no FIN, no RST) that check
    waits its full 2 × ``lock_check_seconds``. Meanwhile its consumer fetches and its engine's
    connections work: every commit must prove the lock is still held first (the commit
    guard), so nothing it handles then is committed; the successor handles all of it."""
    env = _frozen_env(nats_url, database_url, schema)
    with black_hole_proxy(database_url) as (proxy, lock_url), _processes() as started:
        holder, successor = await _holder_and_waiting_successor(
            started, env, {"ROBSON_SAMPLE_LOCK_DATABASE_URL": lock_url}, tmp_path)
        assert holder.proc is not None and successor.proc is not None

        await bus.publish(make_signal("sig-first"))
        await wait_until(lambda: _acked(bus), message="the first message handled")
        first = await _counted(database_url, schema, ["sig-first"])
        assert first == {"sig-first": (1, holder.proc.pid)}, first

        # Frozen between two transactions, its lock's connection gone silent.
        os.kill(holder.proc.pid, signal.SIGSTOP)
        assert proxy.black_hole() == 1  # the holder's lock connection, and only that
        await wait_until(lambda: _stopped(holder), message="the holder frozen")
        await wait_until(lambda: _holds_lock(successor), timeout=20,
                         message="the successor holding the lock")

        ids = [f"sig-woken-{i}" for i in range(WOKEN_SIGNALS)]
        os.kill(holder.proc.pid, signal.SIGCONT)
        for signal_id in ids:
            await bus.publish(make_signal(signal_id))
        await wait_until(lambda: _all_settled(bus, 1 + WOKEN_SIGNALS), timeout=30,
                         message="every new message handled and acked")
        counted = await _counted(database_url, schema, ids)
        by_holder = sorted(i for i, (_, pid) in counted.items() if pid == holder.proc.pid)
        assert not by_holder, (f"the woken holder committed {len(by_holder)} of "
                               f"{WOKEN_SIGNALS} messages without its lock: {by_holder}")
        assert counted == {i: (1, successor.proc.pid) for i in ids}, counted
        probe = _probe(database_url, schema)
        assert await probe("SELECT count(*) FROM inbox") == 1 + WOKEN_SIGNALS
        assert not await read_stream(bus, s.ALL_DEAD_LETTERS)  # held, never counted

        lost = await wait_until(lambda: _lock_check(holder), message="the woken holder fenced")
        assert "another instance of sample holds the lock" in lost or "lost" in lost, lost
        successor.stop()
        reason = await wait_until(lambda: _halted(holder), message="the old holder halted")
        assert "another instance of sample held the lock" in reason, reason
        assert await _counted(database_url, schema, ids) == counted


async def test_transaction_left_idle_past_the_limit_is_rolled_back_and_its_message_handled_again(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """The server's abort is a failed commit like any other: the message is not acked, nothing
    of that transaction stays, and the redelivery applies it once; the service keeps its lock
    and goes on consuming."""
    calls: list[str] = []

    async def stalls_once_after_its_statement(signal: SignalDetected, uow: UnitOfWork) -> None:
        await handle_signal(signal, uow)
        calls.append(signal.signal_id)
        if len(calls) == 1:  # as a stall of the process would: longer than the limit
            await asyncio.sleep(2 * LOCK_CHECK_SECONDS + 1.0)

    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   ack_wait_seconds=2, max_deliver=3,
                                   lock_check_seconds=LOCK_CHECK_SECONDS))
    spec = service.consumer_specs[0]
    service.consumer_specs[0] = dataclasses.replace(spec, handler=stalls_once_after_its_statement)
    probe = _probe(database_url, schema)
    await service.start()
    try:
        await bus.publish(make_signal("sig-stalled"))
        await wait_until(lambda: _acked(bus), timeout=20, message="the message acked")
        assert calls == ["sig-stalled", "sig-stalled"]  # the first transaction did not commit
        assert await probe("SELECT times FROM signal_counts WHERE signal_id = 'sig-stalled'") == 1
        assert await probe("SELECT count(*) FROM inbox") == 1
        assert await wait_until(lambda: _decisions(bus), message="its decision") == 1
        assert service.fence.held and service.halted is None
        await bus.publish(make_signal("sig-after"))
        assert await wait_until(lambda: _both_counted(probe), message="the next one handled")
        assert not await read_stream(bus, s.ALL_DEAD_LETTERS)
    finally:
        await service.stop()


async def _both_counted(probe) -> bool:  # type: ignore[no-untyped-def]
    return await probe("SELECT count(*) FROM signal_counts") == 2
