"""The lifecycle on real NATS + Postgres against the contract-speaking fake venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from robson_contracts import (
    Candle,
    Modification,
    ModificationKind,
    PositionClosed,
    PositionEntryFailed,
    ReplaceOrder,
    TradeTick,
    TriggeredBy,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.errors import ConflictError
from robson_kit.testing import read_stream, wait_until
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers import commands

from .factories import T0, D, gate, minutes
from .fakevenue import FakeVenue


def candle(open_min: int, o: str, h: str, low: str, c: str) -> Candle:
    return Candle(occurred_at=T0 + minutes(open_min + 5), symbol="BTCUSDT", timeframe="5m",
                  open_time=T0 + minutes(open_min), close_time=T0 + minutes(open_min + 5),
                  open=o, high=h, low=low, close=c, volume="10")


async def get(api: httpx.AsyncClient, pid: str) -> dict:
    r = await api.get(f"/positions/{pid}")
    return r.json() if r.status_code == 200 else {}


def status_is(api: httpx.AsyncClient, pid: str, status: str):
    async def check() -> dict | None:
        view = await get(api, pid)
        return view if view.get("status") == status else None
    return check


async def run_breakeven_scenario(bus: Bus, venue: FakeVenue, api: httpx.AsyncClient,
                                 between=None) -> dict:
    """Entry 0.2 @ 50000, TP1 half @ 51000, breakeven on the next candle, rest stopped @ 50000."""
    r = await api.put("/traders/t1/policy", json={"breakeven_trigger_pct": "2"})
    assert r.status_code == 200, r.text
    g = gate()
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="position open")
    if between is not None:
        api = await between(api)
    await venue.move("51000", T0 + minutes(3))
    await wait_until(lambda: _tp_done(api, pid), message="TP1 filled and its OCO stop canceled")
    await bus.publish(candle(0, "50000", "51000", "49950", "50900"))
    await wait_until(lambda: _replaced(venue), message="stop replaced at breakeven")
    await venue.move("50000", T0 + minutes(12))
    return await wait_until(status_is(api, pid, "CLOSED"), message="position closed")


async def _tp_done(api: httpx.AsyncClient, pid: str) -> bool:
    view = await get(api, pid)
    s0 = [o for o in view.get("orders", []) if o["order_id"].endswith("-0S0")]
    return view.get("status") == "PARTIALLY_CLOSED" and bool(s0) and not s0[0]["live"]


async def _replaced(venue: FakeVenue) -> bool:
    return any(isinstance(c, ReplaceOrder) and c.stop_price == D("50000") for c in venue.commands) and \
        any(o.spec.stop_price == D("50000") for o in venue.resting.values())


async def test_allowed_entry_tp1_breakeven_and_stop_realizes_hand_computed_pnl(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    view = await run_breakeven_scenario(bus, venue, api)
    # 0.1 × (51000 − 50000) − 10 entry fee − 5.10 − 5.00 exit fees
    assert Decimal(view["realized_pnl"]).quantize(Decimal("0.01")) == Decimal("79.90")
    assert Decimal(view["realized_pnl"]) == Decimal("79.9")
    assert view["exit_reason"] == "STOP_LOSS" and view["stop_loss"] == "50000"
    closed = await wait_until(lambda: _events(bus, PositionClosed), message="PositionClosed published")
    assert len(closed) == 1 and closed[0].realized_pnl == D("79.9")
    history = (await api.get(f"/positions/{view['position_id']}/modifications")).json()
    applied = [h for h in history if h["verdict"] == "APPLIED" and h["kind"] == "MOVE_SL"]
    assert applied and applied[0]["triggered_by"] == "RULE_ENGINE"
    perf = (await api.get("/performance", params={"trader_id": "t1"})).json()
    assert perf["trades"] == 1 and perf["wins"] == 1 and Decimal(perf["total_pnl"]) == D("79.9")
    csv = (await api.get("/export.csv")).text.splitlines()
    assert csv[0].startswith("position_id,") and len(csv) == 2 and "79.9" in csv[1]
    journal = (await api.get("/journal")).json()
    assert journal[0]["entry_reason"] == "ema cross" and journal[0]["modifications"]


async def _events(bus: Bus, cls: type) -> list:
    found = [m for m in await read_stream(bus, s.ALL_POSITION_EVENTS) if isinstance(m, cls)]
    return found or None


async def test_concurrent_ai_and_manual_modification_applies_one_and_conflicts_the_other(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    g = gate(gate_id="g-conc")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="position open")
    await wait_until(lambda: _stable(api, pid), message="bracket children acknowledged")
    rt = service.deps.runtime
    ai_saved, manual_loaded = asyncio.Event(), asyncio.Event()
    at = T0 + minutes(30)

    async def ai() -> str:
        async with service.uow() as uow:
            p = await commands.load(uow, pid)
            await commands.modify(uow, rt, p, Modification(kind=ModificationKind.MOVE_SL, new_value=D("49500")),
                                  TriggeredBy.AI_ANALYSIS, False, g, at)
            ai_saved.set()
            await manual_loaded.wait()
        return "applied"

    async def manual() -> str:
        await ai_saved.wait()
        try:
            async with service.uow() as uow:
                p = await commands.load(uow, pid)
                manual_loaded.set()
                await commands.modify(uow, rt, p, Modification(kind=ModificationKind.MOVE_SL,
                                                               new_value=D("49700")),
                                      TriggeredBy.USER_MANUAL, False, g, at)
        except ConflictError:
            return "conflict"
        return "applied"

    results = await asyncio.gather(ai(), manual())
    assert sorted(results) == ["applied", "conflict"]
    view = await wait_until(lambda: _settled(api, pid), message="venue acknowledged the replaced stops")
    assert view["stop_loss"] == "49500"
    # The loser retries on the new state and succeeds; a stale expected_version gets HTTP 409.
    version = view["version"]
    stale = await api.put(f"/positions/{pid}/stop-loss", json={"price": "49800", "expected_version": version - 1})
    assert stale.status_code == 409
    fresh = await api.put(f"/positions/{pid}/stop-loss", json={"price": "49800", "expected_version": version})
    assert fresh.status_code == 200 and fresh.json()["applied"]
    history = (await api.get(f"/positions/{pid}/modifications")).json()
    assert [h["verdict"] for h in history] == ["APPLIED", "CONFLICT", "APPLIED"]


async def _stable(api: httpx.AsyncClient, pid: str) -> bool:
    first = await get(api, pid)
    await asyncio.sleep(0.3)
    second = await get(api, pid)
    return first["version"] == second["version"] and all(o["quantity"] != "0" for o in second["orders"])


async def _settled(api: httpx.AsyncClient, pid: str) -> dict | None:
    first = await get(api, pid)
    await asyncio.sleep(0.3)
    second = await get(api, pid)
    stops = [o for o in second["orders"] if o["live"] and o["kind"] == "STOP"]
    done = stops and all(o["price"] == "49500" for o in stops) and first["version"] == second["version"]
    return second if done else None


async def test_manual_stop_change_that_increases_risk_is_rejected_with_violations(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    g = gate(gate_id="g-bad")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="position open")
    r = await api.put(f"/positions/{pid}/stop-loss", json={"price": "48000"})
    assert r.status_code == 422
    assert [v["name"] for v in r.json()["violations"]] == ["STOP_INCREASES_RISK"]
    r = await api.put(f"/positions/{pid}/stop-loss", json={"price": "-1"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"].endswith("price")


async def test_paused_trader_gets_no_new_entry_and_close_all_closes_open_positions(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    g1 = gate(gate_id="g-a")
    await bus.publish(g1)
    await wait_until(status_is(api, position_id_for("g-a"), "OPEN"), message="first open")
    tick_at = T0 + minutes(3)
    await bus.publish(TradeTick(occurred_at=tick_at, symbol="BTCUSDT", price=D("50010"),
                                trade_id="t-clock", source="EXTERNAL"))

    async def market_time_seen() -> bool:
        return service.deps.runtime.market_clock.now() >= tick_at

    await wait_until(market_time_seen, message="the tick's time observed")
    r = await api.post("/traders/t1/pause", json={"account_id": "acc1", "reason": "vacation"})
    assert r.json()["changed"]
    await bus.publish(gate(gate_id="g-b", symbol="ETHUSDT", stop="2900", tps=(("3100", "1"),), qty="1"))
    failed = await wait_until(lambda: _events(bus, PositionEntryFailed), message="entry refused")
    assert failed[0].reason_code == "TRADER_PAUSED"
    r = await api.post("/accounts/acc1/close-all")
    assert r.json()["closing"] == 1
    view = await wait_until(status_is(api, position_id_for("g-a"), "CLOSED"), message="closed at market")
    assert view["exit_reason"] == "MANUAL_CLOSE"
    statuses = [m for m in await read_stream(bus, s.ALL_TRADER_EVENTS)]
    assert [m.paused for m in statuses] == [True]
    # An operator's action is stamped in the market's time (here 2024), never the wall clock's:
    # a wall-clock stamp would move every consumer's event clock years past the replay.
    assert tick_at <= statuses[0].occurred_at < tick_at + minutes(5)


async def test_a_trader_is_paused_only_through_its_own_account(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    """No one acts on an account they don't own: trader t1 of acc1 (known from its position)
    cannot be paused, resumed or read by a token of acc2, nor moved to acc2 by naming it."""
    from robson_kit.testing import auth_headers

    await bus.publish(gate(gate_id="g-own"))
    await wait_until(status_is(api, position_id_for("g-own"), "OPEN"), message="opened")
    other = auth_headers("trade", accounts=["acc2"])
    for action in ("pause", "resume"):
        r = await api.post(f"/traders/t1/{action}", json={"account_id": "acc2"}, headers=other)
        assert r.status_code == 404 and "t1" in r.json()["detail"], r.text
    r = await api.get("/traders/t1/policy", headers=auth_headers("read", accounts=["acc2"]))
    assert r.status_code == 404
    r = await api.post("/traders/t1/pause", json={"account_id": "acc2"})  # admin, wrong account
    assert r.status_code == 404
    r = await api.post("/traders/never-seen/pause", json={"account_id": "acc2"}, headers=other)
    assert r.status_code == 404
    own = auth_headers("trade", accounts=["acc1"])
    r = await api.post("/traders/t1/pause", json={"account_id": "acc1"}, headers=own)
    assert r.status_code == 200 and r.json()["changed"]
    assert (await api.get("/traders/t1/policy", headers=own)).json()["paused"] is True
    statuses = await read_stream(bus, s.ALL_TRADER_EVENTS)
    assert [(m.account_id, m.paused) for m in statuses] == [("acc1", True)]


async def test_the_configs_policy_put_records_a_new_traders_account_for_scoped_tokens(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    from robson_kit.testing import auth_headers

    scoped = auth_headers("trade", accounts=["acc3"])
    assert (await api.post("/traders/t9/pause", json={"account_id": "acc3"},
                           headers=scoped)).status_code == 404  # never seen: not yet acc3's
    r = await api.put("/traders/t9/policy?account_id=acc3", json={})  # robson apply, admin
    assert r.status_code == 200, r.text
    assert (await api.get("/traders/t9/policy", headers=scoped)).json()["account_id"] == "acc3"
    r = await api.post("/traders/t9/pause", json={"account_id": "acc3"}, headers=scoped)
    assert r.status_code == 200 and r.json()["paused"] is True
    r = await api.put("/traders/t9/policy?account_id=acc4", json={},
                      headers=auth_headers("admin", accounts=["acc3", "acc4"]))
    assert r.status_code == 404  # moving a trader between accounts takes an all-accounts token
