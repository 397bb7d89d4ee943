"""RiskLockoutEnded on real NATS + Postgres: once per lockout, whether it expires or an admin
clears it; the kill switch's unlock says so."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from robson_contracts import TradeTick
from robson_contracts import subjects as s
from robson_contracts.alerts import RiskLockoutEnded
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .factories import T0, decision, market_consumed, snapshot


async def _ended(bus: Bus, n: int = 1) -> list[RiskLockoutEnded] | None:
    found = [m for m in await read_stream(bus, s.ALL_RISK_EVENTS)
             if isinstance(m, RiskLockoutEnded)]
    return found if len(found) >= n else None


async def _lockouts(api: httpx.AsyncClient, at) -> list | None:
    status = (await api.get("/accounts/acc1/risk", params={"at": at.isoformat()})).json()
    return status["lockouts"] or None


async def test_trade_frequency_cooldown_that_expires_is_announced_once_as_expired(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await wait_until(lambda: market_consumed(bus, 1), message="tick applied")
    for i in range(1, 5):
        await bus.publish(decision(i, at=T0 + timedelta(seconds=i)))
    at = T0 + timedelta(seconds=5)
    (lockout,) = await wait_until(lambda: _lockouts(api, at), message="cooldown set")
    assert lockout["reason_code"] == "TRADE_FREQUENCY"
    assert await _ended(bus) is None
    later = T0 + timedelta(minutes=11)
    await bus.publish(TradeTick(occurred_at=later, symbol="BTCUSDT", price="100"))
    await wait_until(lambda: market_consumed(bus, 2), message="later tick applied")
    await bus.publish(decision(5, at=later))
    await bus.publish(decision(6, at=later + timedelta(seconds=30), trader="t2"))
    (ended,) = await wait_until(lambda: _ended(bus), message="lockout ended")
    assert (ended.lockout_id, ended.rule) == (lockout["lockout_id"], "TRADE_FREQUENCY")
    assert ended.reason == "EXPIRED" and not ended.kill_switch and ended.account_id == "acc1"
    await api.post("/accounts/acc1/unlock", json={"note": "nothing left to clear"})
    await asyncio.sleep(0.3)
    assert len(await _ended(bus) or []) == 1


async def test_admin_unlock_of_kill_switch_is_announced_once(
    bus: Bus, gate: Service, api: httpx.AsyncClient
) -> None:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await bus.publish(snapshot("7999", T0 + timedelta(seconds=5)))

    async def engaged() -> bool:
        return (await api.get("/accounts/acc1/risk")).json()["kill_switch"]["engaged"]

    await wait_until(engaged, message="kill switch engaged")
    assert await _ended(bus) is None
    assert (await api.post("/accounts/acc1/unlock", json={"note": "reviewed"})).status_code == 200
    (ended,) = await wait_until(lambda: _ended(bus), message="kill switch ended")
    assert ended.kill_switch and ended.lockout_id == "KILL_SWITCH"
    assert (ended.reason, ended.rule) == ("ADMIN_UNLOCK", "drawdown")
    await api.post("/accounts/acc1/unlock", json={"note": "again"})
    await asyncio.sleep(0.3)
    assert len(await _ended(bus) or []) == 1
