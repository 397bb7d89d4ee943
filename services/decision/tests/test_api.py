"""HTTP API: settings, approvals (approve, reject, cancel window), dry run."""

from __future__ import annotations

import asyncio
import json

from robson_contracts import DecisionKind, derive_id
from robson_kit.bus import Bus
from robson_kit.testing import auth_headers, read_stream, wait_until

from .conftest import client
from .factories import signal


async def _decisions(bus: Bus, account: str) -> list:
    return await read_stream(bus, f"robson.decision.made.{account}.>")


async def _pending(http, trader: str, n: int) -> list | None:
    rows = (await http.get("/approvals", params={"trader_id": trader})).json()
    return rows if len(rows) >= n else None


async def test_required_approval_holds_decision_until_approved_and_reject_logs_user_rejected(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    async with client(service) as http:
        await http.put("/traders/t-appr/settings", json={"approval_mode": "REQUIRED"})
        await bus.publish(signal("LONG", "0.9", i=1, trader_id="t-appr", account_id="appr"))
        await bus.publish(signal("SHORT", "0.9", i=2, trader_id="t-appr", account_id="appr"))
        first, second = await wait_until(lambda: _pending(http, "t-appr", 2), message="2 pending")
        assert await _decisions(bus, "appr") == []
        alice = auth_headers("trade", subject="alice")
        spoofed = await http.post(f"/approvals/{first['decision_id']}/approve",
                                  json={"by": "mallory"}, headers=alice)
        assert spoofed.status_code == 422  # who approves is the token's subject, never a field
        ok = await http.post(f"/approvals/{first['decision_id']}/approve", headers=alice)
        assert ok.status_code == 200, ok.text
        no = await http.post(
            f"/approvals/{second['decision_id']}/reject", json={"reason": "not today"}, headers=alice
        )
        assert no.status_code == 200
        (published,) = await wait_until(lambda: _decisions(bus, "appr"), message="approved one")
        assert published.decision_id == first["decision_id"]
        again = await http.post(f"/approvals/{first['decision_id']}/approve")
        assert again.status_code == 409
        assert (await http.post("/approvals/nope/approve")).status_code == 404
        rejected = (await http.get("/decisions", params={"status": "USER_REJECTED"})).json()
        assert [r["decision_id"] for r in rejected] == [second["decision_id"]]
        assert rejected[0]["reason_code"] == "USER_REJECTED"
        assert rejected[0]["resolution_note"] == "not today"
        assert rejected[0]["resolved_by"] == "alice"
        approved = (await http.get(f"/decisions/{first['decision_id']}")).json()
        assert approved["resolved_by"] == "alice"
        await asyncio.sleep(0.3)
        assert len(await _decisions(bus, "appr")) == 1


async def test_cancel_window_decision_proceeds_on_its_own(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    async with client(service) as http:
        await http.put(
            "/traders/t-win/settings",
            json={"approval_mode": "CANCEL_WINDOW", "cancel_window_seconds": "0.3"},
        )
        await bus.publish(signal("LONG", "0.9", trader_id="t-win", account_id="win"))
        (d,) = await wait_until(lambda: _decisions(bus, "win"), message="auto-proceeded")
        (row,) = (await http.get("/decisions", params={"trader_id": "t-win"})).json()
        assert row["status"] == "AUTO_APPROVED" and row["decision_id"] == d.decision_id


async def test_settings_put_is_idempotent_and_bad_settings_get_422(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    async with client(service) as http:
        assert (await http.get("/traders/new/settings")).json()["engine"] == "rules"
        body = {"engine": "llm", "model": "m", "min_strength": "0.7"}
        for _ in range(2):
            assert (await http.put("/traders/t1/settings", json=body)).status_code == 200
        got = (await http.get("/traders/t1/settings")).json()
        assert (got["engine"], got["min_strength"]) == ("llm", "0.7")
        bad = await http.put(
            "/traders/t1/settings",
            json={"tp_fractions": ["0.9", "0.9"], "tp_r_multiples": ["1", "2"]},
        )
        assert bad.status_code == 422 and "sum to at most 1" in bad.text
        unknown = await http.put("/traders/t1/settings", json={"engin": "llm"})
        assert unknown.status_code == 422 and "engin" in unknown.text
        too_long = await http.put("/traders/t1/settings", json={"max_holding_candles": 501})
        assert too_long.status_code == 422 and "max_holding_candles" in too_long.text


async def test_dry_run_decides_without_storing_or_publishing(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    sig = signal("SHORT", "0.9", trader_id="dry", account_id="dry")
    async with client(service) as http:
        response = await http.post(
            "/decide",
            json={
                "signal": json.loads(sig.model_dump_json()),
                "settings": {"min_strength": "0.95"},
            },
        )
        assert response.status_code == 200, response.text
        out = response.json()
        assert out["decision"]["decision"] == DecisionKind.NO_TRADE.value
        assert out["reason_code"] == "WEAK_SIGNAL"
        assert (await http.get("/decisions", params={"trader_id": "dry"})).json() == []
    await asyncio.sleep(0.2)
    assert await _decisions(bus, "dry") == []


async def _awaiting(bus: Bus, account: str) -> list:
    return await read_stream(bus, f"robson.decision.pending.{account}.>")


async def test_held_decisions_announce_awaiting_approval_once_with_cancel_window_end(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    async with client(service) as http:
        await http.put("/traders/t-req/settings", json={"approval_mode": "REQUIRED"})
        await http.put(
            "/traders/t-cw/settings",
            json={"approval_mode": "CANCEL_WINDOW", "cancel_window_seconds": "600"},
        )
        held = signal("LONG", "0.9", trader_id="t-req", account_id="await")
        await bus.publish(held)
        await bus.publish(signal("SHORT", "0.9", i=2, trader_id="t-cw", account_id="await"))
        (req,) = await wait_until(lambda: _pending(http, "t-req", 1), message="req pending")
        (cw,) = await wait_until(lambda: _pending(http, "t-cw", 1), message="cw pending")
        # The same signal again under a new message id: the decision exists, nothing new is told.
        await bus.publish(held.model_copy(update={"message_id": derive_id("again")}))
        await asyncio.sleep(0.3)
        alerts = await wait_until(
            lambda: _awaiting_n(bus, "await", 2), message="two awaiting-approval alerts"
        )
        by_id = {a.decision_id: a for a in alerts}
        assert len(alerts) == 2 and set(by_id) == {req["decision_id"], cw["decision_id"]}
        a_req, a_cw = by_id[req["decision_id"]], by_id[cw["decision_id"]]
        assert a_req.message_type == "DecisionAwaitingApproval"
        assert (a_req.trader_id, a_req.symbol, a_req.decision) == (
            "t-req",
            "BTCUSDT",
            DecisionKind.LONG,
        )
        assert a_req.expires_at is None and a_req.reasoning
        assert a_cw.decision is DecisionKind.SHORT
        assert a_cw.expires_at is not None
        assert a_cw.expires_at.isoformat() == cw["pending_until"].replace("Z", "+00:00")
        assert await _decisions(bus, "await") == []


async def _awaiting_n(bus: Bus, account: str, n: int) -> list | None:
    got = await _awaiting(bus, account)
    return got if len(got) >= n else None


async def test_a_traders_settings_and_model_calls_are_its_accounts_only(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    own, other = auth_headers("admin", accounts=["acc-own"]), auth_headers("admin", accounts=["x"])
    async with client(service) as http:
        assert (await http.get("/traders/t-own/settings", headers=own)).status_code == 404  # unseen
        await bus.publish(signal("LONG", "0.9", i=1, trader_id="t-own", account_id="acc-own"))
        await wait_until(lambda: _decisions(bus, "acc-own"), message="its first decision")
        assert (await http.get("/traders/t-own/settings", headers=own)).status_code == 200
        put = await http.put("/traders/t-own/settings", json={"min_strength": "0.7"}, headers=own)
        assert put.status_code == 200
        for response in (await http.get("/traders/t-own/settings", headers=other),
                         await http.put("/traders/t-own/settings", json={}, headers=other),
                         await http.get("/model-calls", params={"trader_id": "t-own"}, headers=other),
                         await http.get("/model-calls", headers=own)):
            assert response.status_code == 404, response.text
        assert (await http.get("/model-calls", params={"trader_id": "t-own"},
                               headers=own)).status_code == 200
