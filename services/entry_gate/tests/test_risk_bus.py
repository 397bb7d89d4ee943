"""On real NATS + Postgres: market context judged by the gate, and a loss limit acting the
moment a fill breaches it (lockout in GET /risk, RiskLimitBreached once, close-all commanded)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from robson_contracts import (
    CloseAllPositions,
    ExitReason,
    GateDecision,
    GateOutcome,
    MarketContext,
    RiskAction,
    RiskLimitBreached,
    TradeTick,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .factories import T0, closed, decision, snapshot


async def _decisions(bus: Bus, n: int) -> list[GateDecision] | None:
    found = await read_stream(bus, s.ALL_GATE_DECISIONS)
    return found if len(found) >= n else None


async def _market_consumed(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")
    return info.ack_floor.stream_seq >= n


def _context(at, funding: str) -> MarketContext:
    return MarketContext(occurred_at=at, symbol="BTCUSDT", funding_rate=funding,
                         mark_price="100")


async def test_market_context_through_the_gate_extreme_funding_denies_stale_one_as_configured(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(snapshot("10000", T0))
    await bus.publish(_context(T0, "0.005"))  # 0.5% per 8h: extreme
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await wait_until(lambda: _market_consumed(bus, 2), message="context and tick applied")
    await bus.publish(decision(1, at=T0 + timedelta(seconds=1)))
    [first] = await wait_until(lambda: _decisions(bus, 1), message="first gate decision")
    assert first.outcome is GateOutcome.DENY_ENTRY
    assert first.reason_codes == ("FUNDING_RATE_EXTREME",)

    later = T0 + timedelta(hours=2)  # the funding value is now 2 h old (max 1 h)
    await bus.publish(TradeTick(occurred_at=later, symbol="BTCUSDT", price="100"))
    await wait_until(lambda: _market_consumed(bus, 3), message="tick applied")
    await bus.publish(decision(2, at=later))
    second = (await wait_until(lambda: _decisions(bus, 2), message="second"))[1]
    assert second.outcome is GateOutcome.DENY_ENTRY
    assert second.reason_codes == ("FUNDING_RATE_STALE",)

    put = await api.put("/policies/acc1", json={"market": {"stale_funding": "warn"}})
    assert put.status_code == 200
    await bus.publish(decision(3, at=later + timedelta(seconds=1)))
    third = (await wait_until(lambda: _decisions(bus, 3), message="third"))[2]
    assert third.outcome is GateOutcome.ALLOW_ENTRY
    assert third.warnings == ("FUNDING_RATE_STALE",)

    fresh = later + timedelta(seconds=5)
    await bus.publish(_context(fresh, "0.0001"))
    await wait_until(lambda: _market_consumed(bus, 4), message="fresh context applied")
    await bus.publish(decision(4, at=fresh + timedelta(seconds=1)))
    fourth = (await wait_until(lambda: _decisions(bus, 4), message="fourth"))[3]
    assert fourth.outcome is GateOutcome.ALLOW_ENTRY and fourth.warnings == ()


async def _breaches(bus: Bus) -> list[RiskLimitBreached] | None:
    return await read_stream(bus, "robson.gate.risk.>") or None


async def test_fill_that_breaches_daily_loss_locks_at_once_and_reports_the_breach_once(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await api.put("/policies/acc1", json={"monthly_loss": {"enabled": False},
                                          "concurrency": {"enabled": False}})
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    for n in range(3):  # a second and third losing fill the same day: still one breach
        await bus.publish(closed(f"p{n}", "-300", at=T0 + timedelta(minutes=n + 1),
                                 reason=ExitReason.STOP_LOSS))
    [breach] = await wait_until(lambda: _breaches(bus), message="breach reported")
    assert breach.rule == "daily_loss" and breach.action is RiskAction.CLOSE_ALL
    assert breach.until == T0.replace(hour=0) + timedelta(days=1)
    status = (await api.get("/accounts/acc1/risk")).json()
    assert [lk["reason_code"] for lk in status["lockouts"]] == ["DAILY_LOSS_LIMIT"]
    commands = await read_stream(bus, "robson.position.cmd.>")
    assert [type(c) for c in commands] == [CloseAllPositions]
    assert commands[0].reason is ExitReason.RISK_LIMIT
    await wait_until(lambda: _consumed_three(api), message="all fills projected")
    assert len(await read_stream(bus, "robson.gate.risk.>")) == 1


async def _consumed_three(api: httpx.AsyncClient) -> bool:
    status = (await api.get("/accounts/acc1/risk")).json()
    return status["figures"]["realized_today"] == "-900"


async def _locked(api: httpx.AsyncClient) -> list | None:
    status = (await api.get("/accounts/acc1/risk")).json()
    return status["lockouts"] or None


async def test_breach_no_event_reveals_is_enforced_on_the_clock_tick(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await api.put("/policies/acc1", json={"monthly_loss": {"enabled": False},
                                          "concurrency": {"enabled": False}})
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await bus.publish(closed("p1", "-300", at=T0 + timedelta(minutes=1)))
    await wait_until(lambda: _consumed_loss(api, "-300"), message="the loss projected")
    assert await _breaches(bus) is None  # 3% is under the 5% limit
    await api.put("/policies/acc1", json={"monthly_loss": {"enabled": False},
                                          "concurrency": {"enabled": False},
                                          "daily_loss": {"limit": "0.02"}})
    [lock] = await wait_until(lambda: _locked(api), message="locked by the clock tick")
    assert lock["reason_code"] == "DAILY_LOSS_LIMIT"
    [breach] = await wait_until(lambda: _breaches(bus), message="breach reported")
    assert breach.rule == "daily_loss"


async def _consumed_loss(api: httpx.AsyncClient, amount: str) -> bool:
    status = (await api.get("/accounts/acc1/risk")).json()
    return status["figures"]["realized_today"] == amount
