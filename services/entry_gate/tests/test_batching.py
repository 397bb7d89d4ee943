"""A fetched batch is one transaction: each account is locked and saved once, its events
applied in memory in order, and the batch's gate decisions logged by one statement."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import asyncpg
from robson_contracts import subjects as s
from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.main import build_service
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, reset_streams, wait_until

from .conftest import gate_settings
from .factories import T0, closed, decision, opened, snapshot


async def _account_row(database_url: str, schema: str) -> tuple[int, dict]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        row = await conn.fetchrow("SELECT version, state FROM account_state WHERE account_id='acc1'")
        return row["version"], json.loads(row["state"])
    finally:
        await conn.close()


async def _run_backlog(bus: Bus, nats_url: str, database_url: str, schema: str,
                       backlog: list, stream: str, consumer: str) -> EntryGateService:
    for message in backlog:
        await bus.publish(message)
    service = build_service(gate_settings(nats_url, database_url, schema))
    await service.start()

    async def consumed() -> bool:
        info = await bus.js.consumer_info(stream, consumer)
        return info.ack_floor.stream_seq >= len(backlog) and not info.num_pending

    await wait_until(consumed, message=f"{consumer} consumed its backlog")
    return service


async def test_backlog_of_position_events_for_one_account_saves_its_document_once_per_batch(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    await reset_streams(bus)
    events = []
    for i in range(20):
        at = T0 + timedelta(seconds=i)
        events += [opened(f"p{i}", at=at), closed(f"p{i}", "2", at=at + timedelta(seconds=0.5))]
    events.append(opened("last", at=T0 + timedelta(seconds=30)))
    service = await _run_backlog(bus, nats_url, database_url, schema, events, s.POSITIONS.name,
                                 "entry_gate_positions")
    try:
        version, state = await _account_row(database_url, schema)
        cached = await service.deps.accounts.read(None, "acc1")  # type: ignore[arg-type]
    finally:
        await service.stop()
    assert list(state["positions"]) == ["last"]  # every event applied, in order
    assert sum(float(v) for v in state["realized_by_day"].values()) == 40
    assert 1 <= version < len(events)  # one save per transaction, not one per event
    assert cached.model_dump(mode="json") == state  # the cache holds what was committed


async def test_backlog_of_decisions_and_snapshots_logs_each_decision_once_and_keeps_the_latest_equity(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    await reset_streams(bus)
    snapshots = [snapshot(str(10000 + i), T0 + timedelta(seconds=i)) for i in range(10)]
    service = await _run_backlog(bus, nats_url, database_url, schema, snapshots,
                                 s.ACCOUNTS.name, "entry_gate_balances")
    await service.stop()
    decisions = [decision(i, at=T0 + timedelta(seconds=20 + i)) for i in range(1, 9)]
    decisions.append(decisions[0].model_copy(update={"message_id": uuid4()}))  # re-published
    service = await _run_backlog(bus, nats_url, database_url, schema, decisions,
                                 s.DECISIONS.name, "entry_gate_decisions")
    try:
        _, state = await _account_row(database_url, schema)
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            logged = [r["decision_id"] for r in await conn.fetch(
                "SELECT decision_id FROM gate_decisions ORDER BY seq")]
        finally:
            await conn.close()
        published = await read_stream(bus, s.ALL_GATE_DECISIONS)
    finally:
        await service.stop()
    assert state["equity"] == "10009" and state["peak_equity"] == "10009"
    assert logged == [d.decision_id for d in decisions[:8]]  # in order; the redelivery is not
    assert sorted(g.decision.decision_id for g in published) == sorted(logged)


async def test_backlog_of_account_events_over_many_accounts_locks_them_in_one_statement(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """A batch of events of many accounts locks them all ahead, in one statement and in id
    order (as a batch of decisions does), not one statement per account as each is reached."""
    await reset_streams(bus)
    accounts = [f"acc{i}" for i in range(10)]
    first = [snapshot("10000", T0, account=a) for a in accounts]  # their rows exist after it
    service = await _run_backlog(bus, nats_url, database_url, schema, first, s.ACCOUNTS.name,
                                 "entry_gate_balances")
    await service.stop()
    for a in reversed(accounts):
        await bus.publish(snapshot("10100", T0 + timedelta(seconds=1), account=a))
    service = build_service(gate_settings(nats_url, database_url, schema))
    store = service.deps.accounts
    one_by_one: list[str] = []
    lock_one = store._lock

    async def counted(session, account_id):  # type: ignore[no-untyped-def]
        one_by_one.append(account_id)
        return await lock_one(session, account_id)

    store._lock = counted  # type: ignore[method-assign]
    await service.start()
    try:
        async def consumed() -> bool:
            info = await bus.js.consumer_info(s.ACCOUNTS.name, "entry_gate_balances")
            return info.ack_floor.stream_seq >= 2 * len(accounts) and not info.num_pending

        await wait_until(consumed, message="second backlog consumed")
        equities = {a: (await store.read(None, a)).equity for a in accounts}  # type: ignore[arg-type]
    finally:
        await service.stop()
    assert all(str(e) == "10100" for e in equities.values()), equities
    assert one_by_one == []  # every account came from the batch's one locking statement
