"""A batch's gate decisions are inserted in the COMMIT's round trip (nothing reads the insert's
answer): they land with it, and a decision another transaction recorded meanwhile still fails
the transaction on its unique id, so its message is retried and then found recorded."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import pytest
from robson_contracts import GateDecision
from robson_contracts import subjects as s
from robson_entry_gate.adapters import decision_log
from robson_entry_gate.deps import EntryGateService
from robson_kit.bus import Bus
from robson_kit.clock import WallClock
from robson_kit.db import make_engine, make_sessionmaker
from robson_kit.rawtx import begin_with_inbox
from robson_kit.testing import log_queries, read_stream, wait_until
from robson_kit.uow import UnitOfWork, flush_outboxes_and_commit, run_before_commit
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .factories import decision


async def _judged(bus: Bus) -> GateDecision:
    await bus.publish(decision(1))
    [judged] = await wait_until(lambda: _gate_decisions(bus), message="decision judged")
    return judged


async def _gate_decisions(bus: Bus) -> list[GateDecision] | None:
    return await read_stream(bus, s.ALL_GATE_DECISIONS) or None


async def _logged(gate: EntryGateService) -> list[str]:
    async with gate.sessions() as session:
        rows = await session.execute(text("SELECT gate_decision_id FROM gate_decisions ORDER BY seq"))
        return [r[0] for r in rows]


async def _log_in_kit_transaction(engine: AsyncEngine, message: GateDecision) -> None:
    async with make_sessionmaker(engine)() as session, session.begin():
        assert await begin_with_inbox(session, [(uuid4(), "entry_gate_decisions", "s")], "k")
        uow = UnitOfWork(session, WallClock())
        decision_log.append(uow, message)
        await run_before_commit(session)
        await flush_outboxes_and_commit(session, [uow])


async def test_gate_decision_log_insert_lands_in_the_commits_round_trip(
    bus: Bus, gate: EntryGateService
) -> None:
    judged = await _judged(bus)
    another = judged.model_copy(update={"gate_decision_id": "another"})
    engine = make_engine(gate.settings.database_url, gate.settings.db_schema)  # ours alone
    executed = log_queries(engine)
    try:
        await _log_in_kit_transaction(engine, another)
    finally:
        await engine.dispose()
    assert executed[-1].startswith("INSERT INTO gate_decisions") and executed[-1].endswith("; COMMIT")
    assert await _logged(gate) == [judged.gate_decision_id, "another"]


async def test_gate_decision_logged_meanwhile_by_another_transaction_fails_the_commit(
    bus: Bus, gate: EntryGateService
) -> None:
    judged = await _judged(bus)  # logged by the service's own transaction
    engine = make_engine(gate.settings.database_url, gate.settings.db_schema)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await _log_in_kit_transaction(engine, judged)
    finally:
        await engine.dispose()
    assert await _logged(gate) == [judged.gate_decision_id]
    async with gate.sessions() as session:  # the failed transaction's inbox record went too
        assert (await session.execute(text(
            "SELECT count(*) FROM inbox WHERE consumer = 'entry_gate_decisions'"))).scalar_one() == 1
