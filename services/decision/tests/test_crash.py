"""decision as a real process, SIGKILLed mid-work and restarted: every signal ends with exactly
one decision on the bus, none lost, none duplicated, and the model-call record holds exactly the
calls the published decisions were made from (so a replay reproduces them)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from robson_contracts import DecisionKind, SignalDetected, TradeDecision, derive_id
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import (
    ADMIN_HEADERS,
    ServiceProcess,
    read_stream,
    reset_streams,
    unique_schema,
    wait_until,
)
from robson_kit.testing.helpers import drop_schema

from .conftest import client
from .factories import T0, bars, candle, signal
from .fake_llm import FakeLlm, Reply, answer
from .test_llm import GOOD
from .test_replay import _copy_record

SIGNALS = 240
HISTORY = bars(20, end=T0)


def decision_env(nats_url: str, database_url: str, schema: str, **extra: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_DECISION_DB_SCHEMA": schema,
        "ROBSON_DECISION_ACK_WAIT_SECONDS": "2",
        "ROBSON_DECISION_OUTBOX_POLL_SECONDS": "0.1",
        "ROBSON_DECISION_LOG_LEVEL": "WARNING",
        **extra,
    }


async def started(env: dict[str, str], log: Path) -> ServiceProcess:
    proc = ServiceProcess("robson_decision", env, "ROBSON_DECISION_HTTP_PORT", log)
    return await asyncio.to_thread(proc.start)


async def probe(database_url: str, schema: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def on_bus(bus: Bus) -> int:
    return (await bus.js.stream_info(s.DECISIONS.name)).state.messages


async def signals_acked(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "decision_signals")
    return info.ack_floor.stream_seq >= n and info.num_ack_pending == 0


def stream_of_signals() -> list[SignalDetected]:
    price = str(HISTORY[-1].close)
    return [
        signal(("LONG", "SHORT")[i % 2], f"0.{50 + i % 50}", price, i=i, trader_id=f"t{i % 5}")
        for i in range(SIGNALS)
    ]


async def test_killed_mid_stream_and_restarted_every_signal_has_exactly_one_decision(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path: Path
) -> None:
    env = decision_env(nats_url, database_url, schema)
    first = await started(env, tmp_path / "first.log")
    for bar in HISTORY:
        await bus.publish(candle(bar))
    sent = stream_of_signals()

    async def publish_all() -> None:
        for message in sent:
            await bus.publish(message)
            await asyncio.sleep(0.004)

    publisher = asyncio.create_task(publish_all())
    await wait_until(lambda: _at_least(bus, SIGNALS // 4), message="a quarter decided")
    first.kill()  # SIGKILL while signals are still arriving and being decided
    killed_at = await on_bus(bus)
    await publisher
    assert killed_at < SIGNALS
    second = await started(env, tmp_path / "second.log")
    try:
        await wait_until(lambda: signals_acked(bus, SIGNALS), timeout=60, message="all handled")
        await wait_until(lambda: _at_least(bus, SIGNALS), timeout=30, message="all published")
        await asyncio.sleep(0.5)  # room for a duplicate to show up
    finally:
        second.stop()
    decisions: list[TradeDecision] = await read_stream(bus, s.ALL_DECISIONS)
    assert len(decisions) == SIGNALS
    expected = {str(derive_id("decision-id", m.account_id, m.signal_id)) for m in sent}
    assert {d.decision_id for d in decisions} == expected
    assert {d.message_id for d in decisions} == {derive_id("decision", m.message_id) for m in sent}
    entries = [d for d in decisions if d.decision in (DecisionKind.LONG, DecisionKind.SHORT)]
    assert entries and all("ATR(14)" in d.reasoning for d in entries)  # candles survived
    assert await probe(database_url, schema, "SELECT count(*) FROM decisions") == SIGNALS
    outbox = "SELECT count(*) FROM outbox WHERE message_type = 'TradeDecision'"
    assert await probe(database_url, schema, outbox) == SIGNALS


async def _at_least(bus: Bus, n: int) -> bool:
    return await on_bus(bus) >= n


async def test_llm_decision_killed_after_commit_is_not_asked_again_after_restart(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path: Path, fake_llm: FakeLlm
) -> None:
    env = decision_env(nats_url, database_url, schema, ROBSON_DECISION_LLM_BASE_URL=fake_llm.url)
    crashing = await started({**env, "ROBSON_FAULTS": "consumer.after_commit"}, tmp_path / "a.log")
    fake_llm.script("ck", answer(GOOD))
    await _llm_settings(crashing.url, "ck")
    await bus.publish(signal("LONG", "0.8", price="100", trader_id="ck", account_id="ck"))
    await wait_until(lambda: _exited(crashing), message="killed right after the commit")
    healthy = await started(env, tmp_path / "b.log")
    try:
        await wait_until(lambda: signals_acked(bus, 1), timeout=30, message="redelivery acked")
        (d,) = await wait_until(lambda: _decisions(bus, "ck"), message="decision published")
    finally:
        healthy.stop()
    assert d.engine.value == "LLM" and d.decision is DecisionKind.LONG
    assert len(fake_llm.requests_for("ck")) == 1  # the redelivery was dropped by the inbox
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 1


async def test_llm_call_in_flight_when_killed_is_made_again_and_only_the_used_answer_is_recorded(
    bus: Bus,
    nats_url: str,
    database_url: str,
    schema: str,
    tmp_path: Path,
    fake_llm: FakeLlm,
    start_decision,
) -> None:
    env = decision_env(
        nats_url,
        database_url,
        schema,
        ROBSON_DECISION_LLM_BASE_URL=fake_llm.url,
        ROBSON_DECISION_LLM_TIMEOUT_SECONDS="10",
    )
    slow = answer({**GOOD, "reasoning": "first, never used"})
    fake_llm.script("fl", Reply(content=slow.content, delay=5), answer(GOOD))
    first = await started(env, tmp_path / "first.log")
    await _llm_settings(first.url, "fl")
    sig = signal("LONG", "0.8", price="100", trader_id="fl", account_id="fl")
    await bus.publish(sig)
    await wait_until(lambda: _asked(fake_llm, "fl", 1), message="model asked")
    first.kill()
    second = await started(env, tmp_path / "second.log")
    try:
        (d,) = await wait_until(lambda: _decisions(bus, "fl"), timeout=30, message="decision")
        await wait_until(lambda: signals_acked(bus, 1), message="signal acked")
    finally:
        second.stop()
    assert len(fake_llm.requests_for("fl")) == 2
    assert d.engine.value == "LLM" and d.reasoning == GOOD["reasoning"]
    used = "SELECT count(*) FROM model_calls WHERE status = 'OK' AND raw_answer = $1"
    assert await probe(database_url, schema, used, answer(GOOD).content) == 1
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 1
    live = await read_stream(bus, s.ALL_DECISIONS, raw=True)
    # The record replays to the very decision that was published.
    replay_schema = unique_schema()
    await _copy_record(database_url, schema, replay_schema)
    try:
        await reset_streams(bus)
        replay = await start_decision(replay_schema, llm_mode="replay")
        async with client(replay) as http:
            await http.put("/traders/fl/settings", json={"engine": "llm", "model": "fake-model"})
        await bus.publish(sig)
        replayed = await wait_until(
            lambda: read_stream(bus, s.ALL_DECISIONS, raw=True), message="replayed decision"
        )
    finally:
        await drop_schema(database_url, replay_schema)
    assert [m.data for m in replayed] == [m.data for m in live]
    assert len(fake_llm.requests_for("fl")) == 2


async def _llm_settings(url: str, trader: str) -> None:
    async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=url) as http:
        response = await http.put(
            f"/traders/{trader}/settings", json={"engine": "llm", "model": "fake-model"}
        )
        assert response.status_code == 200, response.text


async def _exited(proc: ServiceProcess) -> bool:
    return proc.proc is not None and proc.proc.poll() is not None


async def _decisions(bus: Bus, account: str) -> list[TradeDecision]:
    return await read_stream(bus, f"robson.decision.made.{account}.>")


async def _asked(fake: FakeLlm, trader: str, n: int) -> bool:
    return len(fake.requests_for(trader)) >= n
