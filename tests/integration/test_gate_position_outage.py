"""entry_gate + position on real NATS + Postgres, position down for twenty minutes of market
time while the gate keeps approving: the approvals it had not acted on keep their risk in the
gate's budget (no new approval is sized on headroom they may still use), and when position is
back it refuses them as expired; the gate then releases their risk and approves again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest_asyncio
from robson_contracts import (
    AssetBalance,
    BalanceSnapshot,
    GateDecision,
    GateOutcome,
    PositionEntryFailed,
    SubmitBracketOrder,
    TradeDecision,
    TradeTick,
    TradingMode,
)
from robson_contracts import subjects as s
from robson_entry_gate.main import build_service as build_gate
from robson_entry_gate.settings import EntryGateSettings
from robson_kit.bus import Bus
from robson_kit.testing import asgi_client, drop_schema, read_stream, unique_schema, wait_until
from robson_position.main import build_service as build_position
from robson_position.settings import PositionSettings

from .conftest import T0, at

BACK = 20  # minutes of market time position misses; approvals are valid for 15


def decision(n: int, when: datetime) -> TradeDecision:
    """1% of 10,000 at risk: 20 units, entry 100, stop 95."""
    return TradeDecision(occurred_at=when, account_id="acc1", decision_id=f"d{n}", trader_id=f"t{n}",
                         symbol="BTCUSDT", decision="LONG", confidence="0.8", entry_price="100",
                         stop_loss="95", reasoning="outage test")


def tick(minutes: float) -> TradeTick:
    return TradeTick(occurred_at=at(minutes), symbol="BTCUSDT", price="100")


@pytest_asyncio.fixture
async def gate(bus: Bus, nats_url: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    schema = unique_schema("gate")
    service = build_gate(EntryGateSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                           ack_wait_seconds=2, outbox_poll_seconds=0.2))
    await service.start()
    try:
        async with asgi_client(service, "http://gate") as client:
            yield client
    finally:
        await service.stop()
        await drop_schema(database_url, schema)


async def _verdicts(bus: Bus, n: int) -> list[GateDecision] | None:
    found = await read_stream(bus, s.ALL_GATE_DECISIONS)
    return found if len(found) >= n else None


async def _pending(gate: httpx.AsyncClient) -> int:
    status = await gate.get("/accounts/acc1/risk", params={"at": at(BACK + 1).isoformat()})
    return int(status.json()["risk_budget"]["pending_entries"])


async def _market_seen(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")
    return info.ack_floor.stream_seq >= n


async def test_gate_and_position_after_a_position_outage_never_hand_out_the_same_risk_twice(
        bus: Bus, gate: httpx.AsyncClient, nats_url: str, database_url: str) -> None:
    await bus.publish(tick(0))
    await bus.publish(BalanceSnapshot(occurred_at=T0, account_id="acc1", mode=TradingMode.PAPER,
                                      balances=(AssetBalance(asset="USDT", free="10000", locked="0"),),
                                      equity="10000"))
    await wait_until(lambda: _market_seen(bus, 1), message="the gate has the price")
    for n in range(4):  # position is down: four approvals at 1% fill the 4% month
        await bus.publish(decision(n, T0 + timedelta(seconds=61 * n)))
    early = await wait_until(lambda: _verdicts(bus, 4), message="four verdicts")
    assert [v.outcome for v in early] == [GateOutcome.ALLOW_ENTRY] * 4
    assert all(v.expires_at == v.occurred_at + timedelta(minutes=15) for v in early)

    await bus.publish(tick(BACK))
    await wait_until(lambda: _market_seen(bus, 2), message="the gate has the later price")
    await bus.publish(decision(4, at(BACK)))
    late = (await wait_until(lambda: _verdicts(bus, 5), message="the late verdict"))[4]
    assert late.outcome is GateOutcome.DENY_ENTRY, late.inputs
    assert late.inputs["pending_entries"] == "4" and "MONTHLY_LOSS_LIMIT" in late.reason_codes

    schema = unique_schema("position")
    position = build_position(PositionSettings(nats_url=nats_url, database_url=database_url,
                                               db_schema=schema, ack_wait_seconds=2,
                                               outbox_poll_seconds=0.2, resync_on_start=False))
    await position.start()
    try:
        failures = await wait_until(lambda: _entry_failures(bus, 4), message="stale approvals refused")
        assert sorted(f.gate_decision_id for f in failures) == sorted(v.gate_decision_id for v in early)
        assert {f.reason_code for f in failures} == {"APPROVAL_EXPIRED"}
        assert not [m for m in await read_stream(bus, s.PAPER_ORDER_COMMANDS)
                    if isinstance(m, SubmitBracketOrder)]
        await wait_until(lambda: _pending_is(gate, 0), message="the gate released their risk")
        await bus.publish(decision(5, at(BACK + 1)))
        again = (await wait_until(lambda: _verdicts(bus, 6), message="a fresh verdict"))[5]
        assert again.outcome is GateOutcome.ALLOW_ENTRY, again.reason_codes
        await wait_until(lambda: _brackets(bus, 1), message="the fresh approval acted on")
    finally:
        await position.stop()
        await drop_schema(database_url, schema)


async def _entry_failures(bus: Bus, n: int) -> list[PositionEntryFailed] | None:
    found = [m for m in await read_stream(bus, s.ALL_POSITION_EVENTS) if isinstance(m, PositionEntryFailed)]
    return found if len(found) >= n else None


async def _pending_is(gate: httpx.AsyncClient, n: int) -> bool:
    return await _pending(gate) == n


async def _brackets(bus: Bus, n: int) -> bool:
    found = [m for m in await read_stream(bus, s.PAPER_ORDER_COMMANDS) if isinstance(m, SubmitBracketOrder)]
    return len(found) >= n
