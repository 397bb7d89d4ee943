"""The exactly-once machinery on real NATS + Postgres: inbox, outbox, dead letters, crashes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from robson_contracts import DeadLetter, SignalDetected, TradeDecision, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.service import Service
from robson_kit.testing import ServiceProcess, asgi_client, read_stream, wait_until
from sampleapp.app import times_seen

from .conftest import sample_env

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def make_signal(signal_id: str = "sig-1", strategy: str = "ema_cross") -> SignalDetected:
    return SignalDetected(
        occurred_at=T0, account_id="acc1", signal_id=signal_id, strategy=strategy,
        trader_id="trader1", symbol="BTCUSDT", timeframe="5m", direction="LONG",
        strength="0.8", price="64000.5", candle_time=T0,
    )


async def seen(service: Service, signal_id: str) -> int:
    async with service.uow() as uow:
        return await times_seen(uow, signal_id)


async def decisions(bus: Bus) -> list[TradeDecision]:
    return await read_stream(bus, s.ALL_DECISIONS)


async def test_command_published_three_times_changes_state_once_and_emits_one_event(
    bus: Bus, sample: Service
) -> None:
    signal = make_signal()
    for _ in range(3):
        await bus.publish(signal)  # same Nats-Msg-Id: JetStream drops the copies
    # Past the duplicate window JetStream would accept a copy: the inbox must drop it.
    await bus.publish_raw(s.subject_for(signal), encode(signal), {**headers_for(signal), "Nats-Msg-Id": "other"})
    await wait_until(lambda: _count_consumed(sample, 2), message="both deliveries handled")
    await wait_until(lambda: _decisions_count(bus, 1), message="one decision")
    assert await seen(sample, "sig-1") == 1
    assert len(await decisions(bus)) == 1


async def _count_consumed(service: Service, n: int) -> bool:
    info = await service.bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= n


async def _decisions_count(bus: Bus, n: int) -> bool:
    return len(await decisions(bus)) >= n


async def test_consumer_killed_after_commit_before_ack_is_redelivered_without_second_effect(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = sample_env(nats_url, database_url, schema)
    crashing = ServiceProcess("sampleapp", {**env, "ROBSON_FAULTS": "consumer.after_commit"},
                              "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "crash.log").start()
    await bus.publish(make_signal("sig-kill"))
    await wait_until(lambda: _exited(crashing), message="process killed itself after commit")
    # Its events were stored before the ack it never sent: whoever finds the consumer drained
    # (the lockstep replay) finds its effects too.
    assert len(await decisions(bus)) == 1
    assert (await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")).num_ack_pending == 1
    healthy = ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "ok.log").start()
    try:
        # The message is redelivered after ack_wait (2 s); the inbox makes it a no-op.
        await wait_until(lambda: _count_consumed_raw(bus, 1), timeout=30, message="redelivery acked")
        await wait_until(lambda: _decisions_count(bus, 1), message="decision published")
        probe = _probe(database_url, schema)
        assert await probe("SELECT times FROM signal_counts WHERE signal_id='sig-kill'") == 1
        assert await probe("SELECT count(*) FROM inbox") == 1
        info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
        assert info.delivered.stream_seq == 1
        assert len(await decisions(bus)) == 1
    finally:
        healthy.stop()


async def test_outbox_relay_killed_between_publish_and_mark_publishes_exactly_once(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = sample_env(nats_url, database_url, schema)
    crashing = ServiceProcess("sampleapp", {**env, "ROBSON_FAULTS": "outbox.after_publish"},
                              "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "crash.log").start()
    await bus.publish(make_signal("sig-relay"))
    await wait_until(lambda: _exited(crashing), message="relay killed itself after publish")
    probe = _probe(database_url, schema)
    assert await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
    healthy = ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "ok.log").start()
    try:
        await wait_until(lambda: _outbox_drained(probe), message="outbox drained after restart")
        assert len(await decisions(bus)) == 1
    finally:
        healthy.stop()


async def test_outbox_event_committed_while_relay_is_down_is_published_after_restart(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = sample_env(nats_url, database_url, schema)
    crashing = ServiceProcess("sampleapp", {**env, "ROBSON_FAULTS": "consumer.before_publish"},
                              "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "crash.log").start()
    await bus.publish(make_signal("sig-down"))
    await wait_until(lambda: _exited(crashing), message="crash right after commit")
    assert await decisions(bus) == []
    healthy = ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT", tmp_path / "ok.log").start()
    try:
        probe = _probe(database_url, schema)
        await wait_until(lambda: _outbox_drained(probe), message="outbox drained after restart")
        await wait_until(lambda: _decisions_count(bus, 1), message="decision published")
        assert len(await decisions(bus)) == 1
    finally:
        healthy.stop()


async def test_poison_messages_are_dead_lettered_with_reasons_and_next_message_is_processed(
    bus: Bus, sample: Service
) -> None:
    subject = s.signal("acc1", "BTCUSDT")
    good = json.loads(encode(make_signal("sig-good")))
    await bus.publish_raw(subject, b"{not json", {"Nats-Msg-Id": "p1"})
    await bus.publish_raw(subject, json.dumps({**good, "message_id": "00000000-0000-0000-0000-000000000001",
                                               "surprise": 1}).encode(), {"Nats-Msg-Id": "p2"})
    await bus.publish_raw(subject, json.dumps({**good, "message_id": "00000000-0000-0000-0000-000000000002",
                                               "schema_version": 99}).encode(), {"Nats-Msg-Id": "p3"})
    await bus.publish(make_signal("sig-poison", strategy="poison"))
    await bus.publish(make_signal("sig-good"))
    await wait_until(lambda: _decisions_count(bus, 1), message="good message processed")
    letters: list[DeadLetter] = await wait_until(lambda: _letters(bus, 4), message="4 dead letters")
    assert [letter.reason_code for letter in letters] == [
        "BAD_JSON", "INVALID_MESSAGE", "UNSUPPORTED_VERSION", "POISON"
    ]
    assert base64.b64decode(letters[0].payload_b64) == b"{not json"
    assert "surprise" in letters[1].reason
    assert all(letter.subject == subject and letter.consumer == "sample_signals" for letter in letters)
    assert await seen(sample, "sig-good") == 1
    assert await seen(sample, "sig-poison") == 0


async def test_readyz_reports_nats_database_and_migrations(sample: Service) -> None:
    async with asgi_client(sample) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"nats": "ok", "lock": "ok", "database": "ok", "migrations": "ok",
                                         "consumers": "ok", "loops": "ok"}
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert "robson_messages_total" in (await client.get("/metrics")).text


async def _letters(bus: Bus, n: int) -> list[DeadLetter] | None:
    letters = await read_stream(bus, s.ALL_DEAD_LETTERS)
    return letters if len(letters) >= n else None


async def _exited(proc: ServiceProcess) -> bool:
    return proc.proc is not None and proc.proc.poll() is not None


async def _count_consumed_raw(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= n


async def _outbox_drained(probe) -> bool:
    return await probe("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


def _probe(database_url: str, schema: str):
    import asyncpg

    async def query(sql: str):
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return query
