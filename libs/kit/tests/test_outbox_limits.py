"""The outbox never blocks: events are checked against the bus's max payload at emit time, and
a row that still cannot be published is moved aside while the rows behind it go out."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import APIRouter
from nats.aio.msg import Msg
from nats.js.api import DiscardPolicy
from robson_contracts import DeadLetter, DecisionKind, SignalDetected, TradeDecision, derive_id
from robson_contracts import subjects as s
from robson_kit import metrics
from robson_kit.bus import Bus, stream_config
from robson_kit.consumer import ConsumerSpec
from robson_kit.outbox import ROW_ATTEMPTS
from robson_kit.service import Service
from robson_kit.testing import asgi_client, read_stream, wait_until
from robson_kit.uow import PayloadTooLarge, UnitOfWork
from sampleapp.app import SampleSettings

from .test_messaging import T0, _probe, make_signal

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"
BIG = 2 * 1024 * 1024  # twice nats-server's default max payload


def decision(name: str, reasoning: str = "") -> TradeDecision:
    return TradeDecision(
        message_id=derive_id("test-decision", name), occurred_at=T0, account_id="acc1",
        decision_id=name, trader_id="trader1", symbol="BTCUSDT", decision=DecisionKind.WATCH,
        confidence="0.5", reasoning=reasoning,
    )


async def test_unpublishable_outbox_row_is_moved_aside_and_the_rows_behind_it_are_published(
    bus: Bus, sample: Service, database_url: str
) -> None:
    dead = metrics.OUTBOX_DEAD.labels("sample", "PAYLOAD_TOO_LARGE")
    dead_before = dead._value.get()
    async with sample.uow() as uow:
        uow.emit(decision("d-before"))
    async with sample.uow() as uow:
        uow.max_payload = 10 * BIG  # as written before the emit-time check existed
        uow.emit(decision("d-huge", reasoning="x" * BIG))
    for name in ("d-after-1", "d-after-2"):
        async with sample.uow() as uow:
            uow.emit(decision(name))

    async def published() -> list[str] | None:
        ids = [d.decision_id for d in await read_stream(bus, s.ALL_DECISIONS)]
        return ids if len(ids) >= 3 else None

    assert sorted(await wait_until(published, message="3 decisions")) == ["d-after-1", "d-after-2", "d-before"]
    probe = _probe(database_url, sample.settings.db_schema)
    assert await wait_until(lambda: probe("SELECT reason_code FROM outbox_dead")) == "PAYLOAD_TOO_LARGE"
    async def all_marked() -> bool:  # fast-path rows are marked published within MARK_EVERY
        return await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    await wait_until(all_marked, message="every row published and marked")
    assert dead._value.get() == dead_before + 1
    letters: list[DeadLetter] = await wait_until(lambda: _outbox_letters(bus), message="outbox dead letter")
    assert letters[0].reason_code == "PAYLOAD_TOO_LARGE" and letters[0].subject.startswith("robson.decision.")
    await wait_until(lambda: _pending_gauge_is(sample, 0), message="pending gauge at the real count")


async def test_event_over_the_bus_limit_is_refused_at_emit_and_nothing_commits(
    sample: Service, database_url: str
) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        async with sample.uow() as uow:
            uow.emit(decision("d-too-big", reasoning="x" * BIG))
    assert refused.value.reason_code == "PAYLOAD_TOO_LARGE"
    assert await _probe(database_url, sample.settings.db_schema)("SELECT count(*) FROM outbox") == 0


async def test_route_emitting_an_event_over_the_bus_limit_answers_422_with_reason(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    router = APIRouter()

    @router.post("/huge")
    async def huge() -> dict[str, str]:
        async with service.uow() as uow:
            uow.emit(decision("d-route", reasoning="x" * BIG))
        return {"ok": "yes"}

    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, routers=[router])
    await service.start()
    try:
        async with asgi_client(service) as client:
            answer = await client.post("/huge")
        assert answer.status_code == 422
        assert answer.json()["reason_code"] == "PAYLOAD_TOO_LARGE"
    finally:
        await service.stop()


async def test_handler_emitting_an_event_over_the_bus_limit_dead_letters_its_message(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    async def handler(signal: SignalDetected, uow: UnitOfWork) -> None:
        uow.emit(decision(signal.signal_id, reasoning="x" * (BIG if signal.strategy == "huge" else 1)))

    service = Service(
        SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
        MIGRATIONS,
        consumers=[ConsumerSpec("sample_signals", s.SIGNALS, (s.ALL_SIGNALS,), handler,
                                accepts=(SignalDetected,))],
    )
    await bus.publish(make_signal("sig-huge", strategy="huge"))
    await bus.publish(make_signal("sig-fine"))
    await service.start()
    try:
        letters: list[DeadLetter] = await wait_until(lambda: _letters(bus), message="dead letter")
        assert letters[0].reason_code == "PAYLOAD_TOO_LARGE" and letters[0].consumer == "sample_signals"
        await wait_until(lambda: _decision_ids(bus), message="the next message's decision")
        assert [d.decision_id for d in await read_stream(bus, s.ALL_DECISIONS)] == ["sig-fine"]
    finally:
        await service.stop()


async def _outbox_letters(bus: Bus) -> list[DeadLetter] | None:
    return [x for x in await read_stream(bus, s.ALL_DEAD_LETTERS) if x.consumer == "outbox"] or None


async def _letters(bus: Bus) -> list[DeadLetter] | None:
    return await read_stream(bus, s.ALL_DEAD_LETTERS) or None


async def _decision_ids(bus: Bus, at_least: int = 1) -> list[str] | None:
    ids = [d.decision_id for d in await read_stream(bus, s.ALL_DECISIONS)]
    return ids if len(ids) >= at_least else None


async def _pending_gauge_is(service: Service, n: int) -> bool:
    await service.relay._scan()
    return metrics.OUTBOX_LAG.labels(service.name)._value.get() == n


async def test_outbox_row_no_stream_takes_is_moved_aside_after_repeated_refusals(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                     outbox_poll_seconds=0.1), MIGRATIONS)
    await service.start()
    try:
        async with service.uow() as uow:
            uow.emit(decision("d-nowhere"), subject="robson.nowhere.acc1")
            uow.emit(decision("d-fine"))
        probe = _probe(database_url, schema)
        assert await wait_until(lambda: probe("SELECT reason_code FROM outbox_dead"),
                                message="refused row moved aside") == "PUBLISH_REFUSED"
        assert [d.decision_id for d in await read_stream(bus, s.ALL_DECISIONS)] == ["d-fine"]
        assert await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        assert service.supervisor.failing() == {}
    finally:
        await service.stop()


async def test_outbox_rows_a_full_stream_refuses_wait_and_are_published_once_it_takes_them(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """JetStream answers 503 ("maximum messages exceeded", as for a full disk or a cluster
    without a leader) for any message: an outage, not the events' fault, however many sweeps
    it lasts."""
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                     outbox_poll_seconds=0.1), MIGRATIONS)
    await service.start()
    try:
        async with service.uow() as uow:
            uow.emit(decision("d-first"))
        await wait_until(lambda: _decision_ids(bus), message="the first decision published")
        stored = (await bus.js.stream_info(s.DECISIONS.name)).state.messages
        await bus.js.update_stream(replace(stream_config(s.DECISIONS), max_msgs=stored,
                                           discard=DiscardPolicy.NEW))
        for name in ("d-1", "d-2"):
            async with service.uow() as uow:
                uow.emit(decision(name))
        probe = _probe(database_url, schema)
        attempts: list[bytes] = []  # every publish reaches plain subscribers, refused or not

        async def attempted(msg: Msg) -> None:
            attempts.append(msg.data)

        watch = await bus.nc.subscribe("robson.decision.>", cb=attempted)
        async def refused_long_or_moved_aside() -> bool:
            return (len(attempts) >= 2 * 2 * ROW_ATTEMPTS
                    or await probe("SELECT count(*) FROM outbox_dead") > 0)

        await wait_until(refused_long_or_moved_aside, timeout=30,
                         message=f"each event refused {2 * ROW_ATTEMPTS} times")
        await watch.unsubscribe()
        assert await probe("SELECT count(*) FROM outbox_dead") == 0
        assert await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 2
        await bus.ensure_streams([s.DECISIONS])  # room again
        ids = await wait_until(lambda: _decision_ids(bus, at_least=3), timeout=30, message="both published")
        assert ids == ["d-first", "d-1", "d-2"]
        assert await probe("SELECT count(*) FROM outbox_dead") == 0
    finally:
        await bus.ensure_streams([s.DECISIONS])
        await service.stop()


async def test_idle_relay_skips_its_sweeps_until_an_event_is_committed_and_sweeps_leftovers_anyway(
    bus: Bus, nats_url: str, database_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing unpublished and nothing committed since its last sweep, an idle service's
    relay makes no database round trip every poll interval; a committed event sweeps on
    schedule again, and a row left behind by another writer is still swept within
    ``IDLE_SWEEP_SECONDS``."""
    from robson_kit import outbox as outbox_module

    monkeypatch.setattr(outbox_module, "IDLE_SWEEP_SECONDS", 1.5)
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                     outbox_poll_seconds=0.05), MIGRATIONS)
    await service.start()
    try:
        relay = service.relay
        await wait_until(lambda: not relay.behind and not relay._unpublished,
                         message="start-up sweep done")
        scans = relay._scans
        await asyncio.sleep(0.6)  # twelve poll intervals, idle
        assert relay._scans == scans
        async with service.uow() as uow:
            uow.emit(decision("d-idle"))
        await wait_until(lambda: relay._scans > scans, message="a sweep after the commit")
        assert [d.decision_id for d in await read_stream(bus, s.ALL_DECISIONS)] == ["d-idle"]
        await wait_until(lambda: not relay._unpublished, message="marked published")
        probe = _probe(database_url, schema)
        await probe(  # as a crash of another writer would leave it: committed, never published
            "INSERT INTO outbox (message_id, subject, message_type, payload, headers, created_at) "
            "SELECT gen_random_uuid(), subject, message_type, payload, headers, "
            "created_at - interval '1 minute' FROM outbox LIMIT 1")
        await wait_until(lambda: _published(probe), timeout=5, message="leftover swept")
    finally:
        await service.stop()


async def _published(probe) -> bool:  # type: ignore[no-untyped-def]
    return await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
