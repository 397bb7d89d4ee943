"""Supervised loops: a failing loop is restarted, reported while it keeps failing, and a
finished one is left alone."""

from __future__ import annotations

import asyncio

from robson_kit.supervise import LOOP_RESTARTS, Supervisor


async def test_loop_that_raises_is_restarted_until_it_runs_cleanly() -> None:
    supervisor = Supervisor("svc-a", base_delay=0.01, max_delay=0.02)
    runs: list[int] = []
    done = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 4:
            raise ConnectionError("database down")
        done.set()
        await asyncio.sleep(3600)

    supervisor.spawn("flaky", flaky)
    await asyncio.wait_for(done.wait(), timeout=5)
    assert len(runs) == 4
    assert LOOP_RESTARTS.labels("svc-a", "flaky")._value.get() == 3
    await supervisor.stop()


async def test_loop_that_keeps_failing_is_named_with_its_error() -> None:
    supervisor = Supervisor("svc-b", base_delay=0.01, max_delay=0.02, failing_after=3)

    async def broken() -> None:
        raise RuntimeError("boom")

    supervisor.spawn("broken", broken)
    for _ in range(200):
        if supervisor.failing():
            break
        await asyncio.sleep(0.01)
    assert supervisor.failing() == {"broken": "RuntimeError: boom"}
    await supervisor.stop()


async def test_loop_that_recovered_is_no_longer_failing() -> None:
    supervisor = Supervisor("svc-c", base_delay=0.01, max_delay=0.02, failing_after=2,
                            healthy_after=0.2)
    attempts: list[int] = []

    async def recovers() -> None:
        attempts.append(1)
        if len(attempts) <= 3:
            raise OSError("refused")
        await asyncio.sleep(3600)

    supervisor.spawn("recovers", recovers)
    while len(attempts) < 4:
        await asyncio.sleep(0.01)
    assert "recovers" in supervisor.failing()
    await asyncio.sleep(0.3)
    assert supervisor.failing() == {}
    await supervisor.stop()


async def test_loop_that_returns_is_finished_and_not_restarted() -> None:
    supervisor = Supervisor("svc-d", base_delay=0.01)
    calls: list[int] = []

    async def once() -> None:
        calls.append(1)

    await supervisor.spawn("once", once)
    await asyncio.sleep(0.05)
    assert calls == [1]
    assert supervisor.loops["once"].finished
    await supervisor.stop()
