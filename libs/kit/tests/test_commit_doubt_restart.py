"""A COMMIT that landed although the client saw it fail, in a transaction with in-memory effects
(``after_commit``: the books services keep beside their tables). Its redelivery is a duplicate
the inbox drops, so those effects would never run and the process's memory would stay behind
its database. The process starts again instead, and its start-up loads the memory from the
tables, as after any restart. The sample service keeps the ids of its ``remember`` signals in
memory that way (``sampleapp.app.remembered``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, read_stream, wait_until
from sampleapp import app as sampleapp
from sampleapp.app import build

from .conftest import sample_env
from .test_commit_in_doubt import cut_after_the_first_commit_with_events
from .test_frozen_holder import _counted, _processes
from .test_messaging import make_signal, seen


def _client(service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app(manage_lifecycle=False)),
                             base_url="http://sample")


async def _decided_on(bus: Bus, signal_id: str) -> int:
    signals = {m.message_id for m in await read_stream(bus, s.ALL_SIGNALS)
               if m.signal_id == signal_id}
    return sum(1 for d in await read_stream(bus, s.ALL_DECISIONS) if d.causation_id in signals)


async def test_commit_that_landed_but_raised_with_in_memory_effects_halts_the_service_until_restarted(
    bus: Bus, sample: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    cuts = cut_after_the_first_commit_with_events(monkeypatch)
    await bus.publish(make_signal("remember-in-process", strategy=sampleapp.REMEMBER))

    reason = await wait_until(lambda: _halted(sample), timeout=30, message="the service halted")
    assert cuts == [1], "the commit was cut after landing"
    assert "in-memory effects did not run" in reason, reason
    assert not sample.fence.held, "nothing acts on a memory behind the database"
    assert await seen(sample, "remember-in-process") == 1  # landed ...
    assert "remember-in-process" not in sampleapp.remembered  # ... and memory missed it
    async with _client(sample) as client:
        health = await client.get("/healthz")
    assert health.status_code == 503 and "unknown" in health.json()["reason"]

    await sample.stop()  # what the orchestrator does to a halted process: a fresh start
    again = build(sample.settings)  # type: ignore[arg-type]
    await again.start()
    try:
        assert "remember-in-process" in sampleapp.remembered
        await wait_until(lambda: _decided_on(bus, "remember-in-process"), timeout=20,
                         message="the landed decision published by the new life's relay")
        assert await seen(again, "remember-in-process") == 1  # the redelivery, a duplicate
        assert await _decided_on(bus, "remember-in-process") == 1
    finally:
        await again.stop()


async def test_route_whose_in_memory_effect_fails_after_its_commit_halts_the_service(
    sample: Service,
) -> None:
    """A route's or timer's commit landed and then its in-memory effect failed: memory is
    behind the tables as after a doubtful commit, so the service starts again the same way."""
    def fails() -> None:
        raise RuntimeError("an index update failed")

    with pytest.raises(RuntimeError):
        async with sample.uow() as uow:
            uow.emit(make_signal("sig-effect-failed"))
            uow.after_commit(fails)
    assert sample.halted is not None and "in-memory effects" in sample.halted
    assert not sample.fence.held
    assert sample.relay.behind, "its event waits for the relay's scan"


async def test_commit_refused_before_it_was_sent_leaves_the_service_running(
    bus: Bus, sample: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that fails before its COMMIT is sent (here the outbox write) cannot have
    landed: its message comes back and is handled in full, effects included; no halt."""
    from robson_kit import uow as uow_module

    failed: list[bool] = []
    commit = uow_module.commit_with_outbox

    async def fails_first(session: object, rows: list[object]) -> bool:
        if rows and not failed:
            failed.append(True)
            raise ConnectionResetError("the connection closed before COMMIT was sent")
        return await commit(session, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(uow_module, "commit_with_outbox", fails_first)
    await bus.publish(make_signal("remember-refused", strategy=sampleapp.REMEMBER))
    await wait_until(lambda: _remembered("remember-refused"), timeout=30,
                     message="handled again, its effect in memory")
    assert failed == [True]
    assert sample.halted is None and sample.fence.held
    assert await seen(sample, "remember-refused") == 1


async def test_commit_the_server_refuses_with_an_error_of_its_own_is_no_doubt(
    bus: Bus, sample: Service
) -> None:
    """The COMMIT was sent, but the server answered with an error of its own (the outbox's
    unique message id, violated by an event emitted twice): it rolled back, certainly. The
    message is retried and dead-lettered as any failing one; the service runs on."""
    await bus.publish(make_signal("remember-twice-1", strategy=sampleapp.REMEMBER_TWICE))
    letters = await wait_until(lambda: read_stream(bus, s.ALL_DEAD_LETTERS), timeout=60,
                               message="the message dead-lettered after its retries")
    assert [letter.consumer for letter in letters] == ["sample_signals"]
    assert sample.halted is None and sample.fence.held
    assert await seen(sample, "remember-twice-1") == 0
    assert "remember-twice-1" not in sampleapp.remembered
    assert await _decided_on(bus, "remember-twice-1") == 0


async def test_service_process_whose_commit_landed_but_raised_starts_again_and_reloads_its_memory(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path: Path
) -> None:
    """Under ``Service.run`` (every service's process) the restart is at once and in place: the
    same pid runs its command anew, with the injected fault disarmed (armed for one life)."""
    env = {**sample_env(nats_url, database_url, schema), "ROBSON_FAULTS": "commit.landed:cut"}
    log = tmp_path / "sample.log"
    with _processes() as started:
        proc = ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT", log)
        started.append(proc.start())
        assert proc.proc is not None
        pid = proc.proc.pid
        await bus.publish(make_signal("remember-process", strategy=sampleapp.REMEMBER))

        await wait_until(lambda: "service.starting_again" in log.read_text(), timeout=30,
                         message="the process starting again")
        remembered = await wait_until(lambda: _remembered_by(proc, "remember-process"),
                                      timeout=60, message="the new life's memory")
        assert remembered == ["remember-process"]
        assert proc.proc.poll() is None and proc.proc.pid == pid  # in place, not exited
        assert log.read_text().count("service.halted") == 1
        assert await _counted(database_url, schema, ["remember-process"]) == {
            "remember-process": (1, pid)}
        await wait_until(lambda: _decided_on(bus, "remember-process"), timeout=20,
                         message="its decision published")
        assert await _decided_on(bus, "remember-process") == 1

        # The new life goes on as usual: the fault was for one life.
        await bus.publish(make_signal("remember-after", strategy=sampleapp.REMEMBER))
        await wait_until(lambda: _remembered_by(proc, "remember-after"), timeout=30,
                         message="a later signal handled by the new life")
        assert "service.starting_again" in log.read_text()
        assert log.read_text().count("service.starting_again") == 1


async def _halted(service: Service) -> str | None:
    return service.halted


async def _remembered(signal_id: str) -> bool:
    return signal_id in sampleapp.remembered


async def _remembered_by(proc: ServiceProcess, signal_id: str) -> list[str] | None:
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=2) as client:
            response = await client.get("/remembered", headers=ADMIN_HEADERS)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    ids = response.json()
    return ids if signal_id in ids else None
