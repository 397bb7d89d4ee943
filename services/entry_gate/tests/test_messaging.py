"""On real NATS + Postgres: replay drives projections, idempotency, kill switch, crash/restart."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import httpx
from robson_contracts import (
    CloseAllPositions,
    ExitReason,
    GateDecision,
    RiskLimitBreached,
    TradeTick,
    encode,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.service import Service
from robson_kit.testing import ServiceProcess, read_stream, reset_streams, wait_until

from .conftest import gate_env
from .factories import T0, closed, decision, opened, snapshot


async def _gate_decisions(bus: Bus, n: int) -> list[GateDecision] | None:
    found = await read_stream(bus, s.ALL_GATE_DECISIONS)
    return found if len(found) >= n else None


def _scenario() -> list[list]:
    """Phases of input; each phase is published and fully consumed before the next."""
    t = T0
    return [
        [TradeTick(occurred_at=t, symbol="BTCUSDT", price="100"), snapshot("10000", t)],
        [decision(i, at=t + timedelta(seconds=i), trader=f"t{i % 2}") for i in range(1, 7)],
        [opened("p1", at=t + timedelta(seconds=20), qty="20", entry="100", stop="95"),
         opened("p2", at=t + timedelta(seconds=21), trader="t0", qty="20", entry="100", stop="95"),
         closed("p1", "-100", at=t + timedelta(seconds=40), reason=ExitReason.STOP_LOSS)],
        [snapshot("9900", t + timedelta(seconds=41))],
        [decision(i, at=t + timedelta(seconds=60 + i), trader="t9") for i in range(7, 10)],
    ]


async def _publish_phase(bus: Bus, phase: list) -> None:
    for message in phase:
        await bus.publish(message)


async def _consumed(bus: Bus, total: dict[str, int]) -> bool:
    streams = {"entry_gate_decisions": s.DECISIONS.name, "entry_gate_positions": s.POSITIONS.name,
               "entry_gate_balances": s.ACCOUNTS.name, "entry_gate_market": s.MARKET.name}
    for consumer, stream in streams.items():
        try:
            info = await bus.js.consumer_info(stream, consumer)
        except Exception:
            return False
        if info.ack_floor.stream_seq < total.get(stream, 0) or info.num_pending:
            return False
    return True


async def _snapshot_state(database_url: str, schema: str) -> dict:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        state = json.loads(await conn.fetchval("SELECT state FROM account_state WHERE account_id='acc1'"))
        rows = await conn.fetch("SELECT gate_decision_id, outcome, reason_codes FROM gate_decisions "
                                "ORDER BY gate_decision_id")
        return {"state": state, "decisions": [tuple(r) for r in rows]}
    finally:
        await conn.close()


async def _run_phases(bus: Bus, phases: list[list], on_phase=None) -> None:
    totals: dict[str, int] = {}
    for index, phase in enumerate(phases):
        await _publish_phase(bus, phase)
        for message in phase:
            stream = next(st.name for st in s.STREAMS
                          if s.subject_for(message).startswith(st.subjects[0][:-2]))
            totals[stream] = totals.get(stream, 0) + 1
        if on_phase is not None:
            await on_phase(index)
        await wait_until(lambda: _consumed(bus, totals), timeout=40, message=f"phase {index} consumed")


async def test_replay_of_decisions_and_fills_drives_projections(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await _run_phases(bus, _scenario())
    status = (await api.get("/accounts/acc1/risk",
                            params={"at": (T0 + timedelta(seconds=70)).isoformat()})).json()
    f = status["figures"]
    assert f["equity"] == "9900" and f["realized_today"] == "-100"
    assert status["risk_budget"]["open_positions"] == 1
    decisions = await read_stream(bus, s.ALL_GATE_DECISIONS)
    outcomes = {d.decision.decision_id: d.outcome.value for d in decisions}
    # 4 slots at month start; the per-minute limit (3) is reached first and starts a cooldown.
    assert [outcomes[f"d{i}"] for i in range(1, 7)] == ["ALLOW_ENTRY"] * 3 + ["DENY_ENTRY"] * 3
    assert "TRADE_FREQUENCY" in next(d for d in decisions if d.decision.decision_id == "d4").reason_codes
    # d7..d9 arrive inside the stop-out cooldown (15 min after p1's stop-loss exit).
    assert all("STOPOUT_COOLDOWN" in d.reason_codes for d in decisions
               if d.decision.decision_id in {"d7", "d8", "d9"})


async def test_same_decision_delivered_twice_yields_one_gate_decision(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    d = decision(1)
    await bus.publish(d)
    await bus.publish_raw(s.subject_for(d), encode(d), {**headers_for(d), "Nats-Msg-Id": "again"})
    copy = d.model_copy(update={"message_id": d.message_id.__class__(int=1)})
    await bus.publish(copy)  # a different message carrying the same decision
    await wait_until(lambda: _consumed(bus, {s.DECISIONS.name: 3}), message="all consumed")
    assert len(await read_stream(bus, s.ALL_GATE_DECISIONS)) == 1
    assert len((await api.get("/decisions")).json()["items"]) == 1


async def test_gate_with_wall_clock_admin_events_during_replay_keeps_market_time_and_allows_entry(
    bus: Bus, gate: Service
) -> None:
    """A deposit or a pause is stamped with the wall clock (years after a replay's market time):
    it must not move the gate's calendar, or every replayed price would look stale."""
    from datetime import UTC, datetime

    from robson_contracts import TraderStatusChanged

    wall = datetime(2026, 11, 21, tzinfo=UTC)
    phases = [
        [TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"), snapshot("10000", wall)],
        [TraderStatusChanged(occurred_at=wall, account_id="acc1", trader_id="t1", paused=False)],
        [decision(1, at=T0 + timedelta(seconds=1))],
    ]
    await _run_phases(bus, phases)
    (gate_decision,) = await read_stream(bus, s.ALL_GATE_DECISIONS)
    assert "MARKET_DATA_STALE" not in gate_decision.reason_codes
    assert gate_decision.outcome.value == "ALLOW_ENTRY"


async def test_drawdown_engages_kill_switch_until_admin_unlocks(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await bus.publish(snapshot("7999", T0 + timedelta(seconds=5)))
    breached = await wait_until(lambda: _risk(bus), message="risk events")
    kinds = {type(m) for m in breached}
    assert kinds == {CloseAllPositions, RiskLimitBreached}
    close_all = next(m for m in breached if isinstance(m, CloseAllPositions))
    assert close_all.reason is ExitReason.KILL_SWITCH and close_all.account_id == "acc1"
    await bus.publish(decision(1, at=T0 + timedelta(seconds=10)))
    [denied] = await wait_until(lambda: _gate_decisions(bus, 1), message="decision judged")
    assert "KILL_SWITCH_ENGAGED" in denied.reason_codes
    status = (await api.get("/accounts/acc1/risk")).json()
    assert status["kill_switch"]["engaged"] is True
    unlocked = await api.post("/accounts/acc1/unlock", json={"note": "reviewed"})
    assert "KILL_SWITCH" in unlocked.json()["cleared"]
    await bus.publish(decision(2, at=T0 + timedelta(seconds=20)))
    later = await wait_until(lambda: _gate_decisions(bus, 2), message="second decision")
    assert later[1].outcome.value == "ALLOW_ENTRY"


async def _risk(bus: Bus) -> list | None:
    found = await read_stream(bus, "robson.position.cmd.>") + await read_stream(bus, s.ALL_RISK_EVENTS)
    return found if len(found) >= 2 else None


async def test_sigkill_mid_stream_and_restart_gives_identical_projections_and_lockouts(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    phases = _scenario()
    env = gate_env(nats_url, database_url, schema + "_ref")
    reference = ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT",
                               tmp_path / "ref.log").start()
    try:
        await _run_phases(bus, phases)
    finally:
        reference.stop()
    expected = await _snapshot_state(database_url, schema + "_ref")

    await reset_streams(bus)
    env = gate_env(nats_url, database_url, schema)
    procs = [ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT",
                            tmp_path / "a.log").start()]

    async def crash_during_decisions(index: int) -> None:
        if index == 1:
            await wait_until(lambda: _gate_decisions(bus, 1), message="first decisions")
            procs[0].kill()
            procs.append(ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT",
                                        tmp_path / "b.log").start())

    try:
        await _run_phases(bus, phases, crash_during_decisions)
    finally:
        procs[-1].stop()
    actual = await _snapshot_state(database_url, schema)
    assert actual == expected
    assert expected["state"]["lockouts"]  # the scenario does lock (trade-frequency cooldown)
    assert len(await read_stream(bus, s.ALL_GATE_DECISIONS)) == len(expected["decisions"])
