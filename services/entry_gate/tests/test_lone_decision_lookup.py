"""A lone decision's batch asks whether the decision was logged before in the same statement that
locks its account (one round trip for both); a decision logged meanwhile by a transaction the
lock waited for is still judged once: its insert fails the transaction on the unique id, and
the retry finds it logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import asyncpg
from robson_contracts import subjects as s
from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.domain.gate import gate_decision_id
from robson_entry_gate.main import build_service
from robson_kit.bus import Bus
from robson_kit.testing import log_queries, read_stream, reset_streams, wait_until

from .conftest import gate_settings
from .factories import ACC, decision, snapshot

LOCKS_ACCOUNT = "FOR UPDATE"


@asynccontextmanager
async def _gate_logging_queries(nats_url: str, database_url: str,
                                schema: str) -> AsyncIterator[tuple[EntryGateService, list[str]]]:
    service = build_service(gate_settings(nats_url, database_url, schema))
    executed = log_queries(service.engine)  # before start: every connection is logged
    await service.start()
    try:
        yield service, executed
    finally:
        await service.stop()


async def _consumed(bus: Bus, stream: str, consumer: str, count: int) -> bool:
    info = await bus.js.consumer_info(stream, consumer)
    return info.ack_floor.stream_seq >= count and not info.num_pending and not info.num_ack_pending


async def _logged(database_url: str, schema: str) -> list[str]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return [r[0] for r in await conn.fetch("SELECT gate_decision_id FROM gate_decisions")]
    finally:
        await conn.close()


async def test_lone_decision_is_looked_up_in_the_statement_that_locks_its_account(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    await reset_streams(bus)
    async with _gate_logging_queries(nats_url, database_url, schema) as (_, executed):
        await bus.publish(snapshot("10000"))  # the account's row exists before the decision
        await wait_until(lambda: _consumed(bus, s.ACCOUNTS.name, "entry_gate_balances", 1),
                         message="snapshot applied")
        executed.clear()
        await bus.publish(decision(1))
        await wait_until(lambda: read_stream(bus, s.ALL_GATE_DECISIONS), message="judged")
        await wait_until(lambda: _consumed(bus, s.DECISIONS.name, "entry_gate_decisions", 1),
                         message="decision acked")
    locking = [q for q in executed if LOCKS_ACCOUNT in q]
    assert len(locking) == 1 and "gate_decisions" in locking[0]
    assert not [q for q in executed if q.startswith("SELECT 1 FROM gate_decisions")]


async def test_lone_decision_published_again_is_found_logged_and_its_account_stays_clean(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    await reset_streams(bus)
    first = decision(1)
    async with _gate_logging_queries(nats_url, database_url, schema) as (service, _):
        await bus.publish(snapshot("10000"))
        await bus.publish(first)
        await wait_until(lambda: _consumed(bus, s.DECISIONS.name, "entry_gate_decisions", 1),
                         message="first judged")
        await bus.publish(first.model_copy(update={"message_id": uuid4()}))  # a new message id
        await wait_until(lambda: _consumed(bus, s.DECISIONS.name, "entry_gate_decisions", 2),
                         message="copy handled")
        judged = await read_stream(bus, s.ALL_GATE_DECISIONS)
        # locked ahead but never handled: not marked dirty, so the committed copy still serves
        cached = await service.deps.accounts.read(None, ACC)  # type: ignore[arg-type]
    assert [m.decision.decision_id for m in judged] == ["d1"]
    assert cached.account_id == ACC
    assert await _logged(database_url, schema) == [gate_decision_id(first)]


async def test_lone_decision_logged_while_its_lock_waited_is_not_judged_twice(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """The lookup sees the statement's snapshot, taken before the lock wait: it misses a
    decision another transaction logged while holding the account. The insert at COMMIT then
    fails on the unique id, and the message's retry finds the decision logged."""
    await reset_streams(bus)
    d = decision(1)
    async with _gate_logging_queries(nats_url, database_url, schema) as (_, executed):
        await bus.publish(snapshot("10000"))
        await wait_until(lambda: _consumed(bus, s.ACCOUNTS.name, "entry_gate_balances", 1),
                         message="snapshot applied")
        other = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute("SELECT 1 FROM account_state WHERE account_id = $1 FOR UPDATE", ACC)
            await other.execute(
                "INSERT INTO gate_decisions (gate_decision_id, decision_id, account_id, trader_id, "
                "symbol, outcome, reason_codes, decided_at, payload) VALUES ($1, 'd1', $2, 't1', "
                "'BTCUSDT', 'DENY_ENTRY', '[]', now(), '{}')", gate_decision_id(d), ACC)
            await bus.publish(d)
            await wait_until(lambda: _waiting_for_a_lock(other), message="gate waits for the lock")
            await tx.commit()
        finally:
            await other.close()
        await wait_until(lambda: _consumed(bus, s.DECISIONS.name, "entry_gate_decisions", 1),
                         message="decision settled", timeout=30)
        await asyncio.sleep(0.5)  # anything published late would be on the stream by now
        judged = await read_stream(bus, s.ALL_GATE_DECISIONS)
        dead = await read_stream(bus, s.ALL_DEAD_LETTERS)
    assert judged == [] and dead == []
    assert await _logged(database_url, schema) == [gate_decision_id(d)]
    assert any(LOCKS_ACCOUNT in q and "gate_decisions" in q for q in executed)
    # the first attempt missed the row and tried to log the decision: the race did happen
    assert any(q.startswith("INSERT INTO gate_decisions") for q in executed)


async def _waiting_for_a_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))
