"""HTTP API on real Postgres + NATS: policies, dry-run check, status, history, unlock."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from robson_contracts import GateDecision, TradeTick
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .factories import T0, decision, market_consumed, snapshot


async def test_invalid_policy_update_is_refused_with_field_level_messages(
    api: httpx.AsyncClient,
) -> None:
    bad = {"sizing": {"risk_per_trade": "0.5", "max_position_notional": 0.2},
           "daily_reset": {"timezone": "Mars/Olympus"}, "positions": {"max_per_trader": -1},
           "surprise": True}
    response = await api.put("/policies/acc1", json=bad)
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["detail"]}
    assert "at most 0.1" in fields["body.sizing.risk_per_trade"]
    assert "floats are not accepted" in fields["body.sizing.max_position_notional"]
    assert "unknown IANA timezone" in fields["body.daily_reset.timezone"]
    assert "greater than or equal to 0" in fields["body.positions.max_per_trader"]
    assert "body.surprise" in fields
    trader = await api.put("/policies/acc1/traders/t1", json={"min_confidence": "1.5"})
    assert trader.status_code == 422
    assert trader.json()["detail"][0]["field"] == "body.min_confidence"
    offset = await api.put("/policies/acc1", json={
        "sessions": {"windows": [{"start": "09:00Z", "end": "17:00"}]},
        "daily_reset": {"time": "00:00+02:00"}})
    assert offset.status_code == 422  # it used to be stored, then deny every entry (RULE_ERROR)
    fields = {e["field"]: e["message"] for e in offset.json()["detail"]}
    assert "without an offset" in fields["body.sessions.windows.0.start"]
    assert "without an offset" in fields["body.daily_reset.time"]
    unchanged = (await api.get("/policies/acc1")).json()
    assert unchanged["configured"] is False and unchanged["policy"]["sizing"]["risk_per_trade"] == "0.01"


async def test_policy_put_is_idempotent_and_read_back(api: httpx.AsyncClient) -> None:
    body = {"positions": {"max_per_trader": 1}, "daily_reset": {"time": "17:00",
                                                                "timezone": "America/Chicago"}}
    for _ in range(2):
        assert (await api.put("/policies/acc1", json=body)).status_code == 200
    got = (await api.get("/policies/acc1")).json()
    assert got["configured"] and got["policy"]["positions"]["max_per_trader"] == 1
    assert got["policy"]["daily_reset"] == {"time": "17:00:00", "timezone": "America/Chicago"}
    put = await api.put("/policies/acc1/traders/t1", json={"min_confidence": "0.9"})
    assert put.status_code == 200
    assert (await api.get("/policies/acc1/traders/t1")).json()["policy"]["min_confidence"] == "0.9"


async def test_check_is_a_dry_run_that_records_nothing(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await wait_until(lambda: _has_equity(api), message="snapshot projected")
    await wait_until(lambda: market_consumed(bus, 1), message="tick applied")
    body = json.loads(decision(entry="100", stop="90", quantity="50").model_dump_json())
    first = (await api.post("/check", json=body)).json()
    second = (await api.post("/check", json=body)).json()
    assert first["dry_run"] and first["outcome"] == "ALLOW_ENTRY"
    assert first["approved_quantity"] == "10"
    assert first == second  # nothing recorded: no pending entry, no trade counted
    assert (await api.get("/decisions")).json()["items"] == []
    low = json.loads(decision(confidence="0.2").model_dump_json())
    denied = (await api.post("/check", json=low)).json()
    assert denied["outcome"] == "DENY_ENTRY" and denied["reason_codes"] == ["LOW_CONFIDENCE"]
    watch = {**body, "decision": "WATCH"}
    assert (await api.post("/check", json=watch)).status_code == 422
    assert (await api.post("/check", json={**body, "confidence": 0.9})).status_code == 422


async def test_decision_history_filters_and_status(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await wait_until(lambda: _has_equity(api), message="snapshot projected")
    await wait_until(lambda: market_consumed(bus, 1), message="tick applied")
    await bus.publish(decision(1, at=T0 + timedelta(seconds=1)))
    await bus.publish(decision(2, at=T0 + timedelta(seconds=2), confidence="0.1"))
    await wait_until(lambda: _count(bus, 2), message="two gate decisions")
    allowed = (await api.get("/decisions", params={"outcome": "ALLOW_ENTRY"})).json()["items"]
    assert [d["decision"]["decision_id"] for d in allowed] == ["d1"]
    low = (await api.get("/decisions", params={"reason_code": "LOW_CONFIDENCE"})).json()["items"]
    assert [d["decision"]["decision_id"] for d in low] == ["d2"]
    assert low[0]["inputs"]["equity"] == "10000"
    one = (await api.get(f"/decisions/{allowed[0]['gate_decision_id']}")).json()
    assert one["outcome"] == "ALLOW_ENTRY"
    assert (await api.get("/decisions/nope")).status_code == 404
    status = (await api.get("/accounts/acc1/risk", params={"at": T0.isoformat()})).json()
    assert status["risk_budget"]["max_concurrency"] == 4
    assert status["risk_budget"]["pending_entries"] == 1
    assert status["kill_switch"]["engaged"] is False


async def test_risk_status_without_at_is_as_of_the_accounts_last_event_time(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    """During a replay the wall clock is months away from market time: the status must show
    the replayed month, not an empty one."""
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await wait_until(lambda: _has_equity(api), message="snapshot projected")
    await wait_until(lambda: market_consumed(bus, 1), message="tick applied")
    await bus.publish(decision(1, at=T0 + timedelta(seconds=5)))
    await wait_until(lambda: _count(bus, 1), message="decision judged")
    status = (await api.get("/accounts/acc1/risk")).json()
    assert status["as_of"] == (T0 + timedelta(seconds=5)).isoformat()
    assert status["figures"]["evaluated_at"] == status["as_of"]
    assert status["risk_budget"]["pending_entries"] == 1
    later = T0 + timedelta(hours=1)
    explicit = (await api.get("/accounts/acc1/risk", params={"at": later.isoformat()})).json()
    assert explicit["as_of"] == later.isoformat()
    unknown = (await api.get("/accounts/nobody/risk")).json()
    assert unknown["last_event_at"] is None and unknown["as_of"] > "2025"  # the wall clock


async def test_unlock_of_unknown_lockout_is_404_and_note_is_required(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.post("/accounts/acc1/unlock", json={"note": "x", "lockout_id": "nope"})
    assert missing.status_code == 404
    no_note = await api.post("/accounts/acc1/unlock", json={})
    assert no_note.status_code == 422 and no_note.json()["detail"][0]["field"] == "body.note"


async def _has_equity(api: httpx.AsyncClient) -> bool:
    status = (await api.get("/accounts/acc1/risk")).json()
    return status["figures"]["capital_source"] == "snapshot"


async def _count(bus: Bus, n: int) -> list[GateDecision] | None:
    found = await read_stream(bus, s.ALL_GATE_DECISIONS)
    return found if len(found) >= n else None


async def test_policy_that_would_break_the_monthly_bound_is_refused_naming_the_fields(
    api: httpx.AsyncClient,
) -> None:
    small_unit = await api.put("/policies/acc9", json={"concurrency": {"unit": "0.005"}})
    assert small_unit.status_code == 422
    text = json.dumps(small_unit.json()["detail"])
    assert "concurrency.unit" in text and "sizing.risk_per_trade" in text
    budget = await api.put("/policies/acc9", json={"concurrency": {"budget": "0.06"}})
    assert budget.status_code == 422
    text = json.dumps(budget.json()["detail"])
    assert "concurrency.budget" in text and "monthly_loss.limit" in text
    trader = await api.put("/policies/acc9/traders/t1", json={"risk_per_trade": "0.02"})
    assert trader.status_code == 422
    assert trader.json()["detail"][0]["field"] == "body.risk_per_trade"
    assert "concurrency.unit" in trader.json()["detail"][0]["message"]
    ok = await api.put("/policies/acc9/traders/t1", json={"risk_per_trade": "0.005"})
    assert ok.status_code == 200
    shrink = await api.put("/policies/acc9", json={"sizing": {"risk_per_trade": "0.002"},
                                                   "concurrency": {"unit": "0.004"}})
    assert shrink.status_code == 422  # the trader's 0.5% would no longer fit a slot
    assert shrink.json()["detail"][0]["field"] == "body.traders.t1.risk_per_trade"
    assert (await api.get("/policies/acc9")).json()["configured"] is False


async def test_unlock_and_policy_change_record_the_tokens_subject(gate: Service) -> None:
    from robson_kit.testing import asgi_client, auth_headers
    from sqlalchemy import text

    async with asgi_client(gate, "http://gate", auth_headers("admin", subject="carol")) as carol:
        assert (await carol.post("/accounts/acc-audit/unlock", json={"note": "checked"})).status_code == 200
        policy = (await carol.get("/policies/acc-audit")).json()["policy"]
        assert (await carol.put("/policies/acc-audit", json=policy)).status_code == 200
    async with asgi_client(gate, "http://gate", auth_headers("trade", subject="dave")) as dave:
        assert (await dave.post("/accounts/acc-audit/unlock", json={"note": "me too"})).status_code == 403
    async with gate.sessions() as session:
        rows = (await session.execute(text(
            "SELECT action, actor FROM admin_actions WHERE account_id = 'acc-audit' ORDER BY seq"))).all()
    assert [(r.action, r.actor) for r in rows] == [("UNLOCK", "carol"), ("PUT_POLICY", "carol")]
