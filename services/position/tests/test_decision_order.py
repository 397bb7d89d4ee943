"""A decision made on a candle is applied after position has marked that candle, whichever of
the two consumers gets there first (the race a restart made visible in the chaos suite)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
from robson_contracts import ModificationKind, ReplaceOrder, TradeDecision
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, wait_until
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for

from .factories import T0, D, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import status_is
from .test_trailing import _candle_seen, _stop_at, candle


def trail_decided_at(pid: str, at: datetime, percent: str = "1") -> TradeDecision:
    return TradeDecision(occurred_at=at, account_id="acc1", decision_id="review-1", trader_id="t1",
                         symbol="BTCUSDT", timeframe="5m", decision="WATCH", confidence="0.9",
                         position_id=pid, modifications=(
                             {"kind": ModificationKind.TRAIL_SL.value, "trail_percent": percent},))


async def _open_and_mark_first_candle(bus: Bus, api: httpx.AsyncClient) -> str:
    assert (await api.put("/traders/t1/policy", json={"modification_interval_seconds": 0})).status_code == 200
    g = gate(tps=())
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="position open")
    await bus.publish(candle(0, "50500", "49900", "50400"))
    await wait_until(lambda: _candle_seen(api, pid, 0), message="candle 0 marked")
    return pid


async def test_trail_decided_on_a_candle_position_has_not_marked_waits_for_that_candle(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    pid = await _open_and_mark_first_candle(bus, api)
    await bus.publish(trail_decided_at(pid, T0 + minutes(10)))  # decided on candle 1's close
    await asyncio.sleep(0.5)  # the decision is delivered first: it must not be applied yet
    assert (await api.get(f"/positions/{pid}")).json()["stop_loss"].startswith("49000")
    await bus.publish(candle(1, "51000", "50300", "50900"))
    expected = D("51000") * D("0.99")  # from the best price including candle 1
    await wait_until(lambda: _stop_at(venue, expected), message="stop trailed from candle 1's best")
    replaced = [c.stop_price for c in venue.commands if isinstance(c, ReplaceOrder)]
    assert replaced == [expected]  # never from the best price before candle 1 (49995)
    rows = (await api.get(f"/positions/{pid}/modifications")).json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    assert [(r["kind"], r["verdict"]) for r in rows] == [("TRAIL_SL", "APPLIED")]


async def test_decision_whose_candle_never_reaches_position_is_applied_after_the_wait(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    pid = await _open_and_mark_first_candle(bus, api)
    limit = service.deps.runtime.decision_wait.limit
    sent = asyncio.get_running_loop().time()
    await bus.publish(trail_decided_at(pid, T0 + minutes(10)))
    expected = D("50500") * D("0.99")  # the best price position knows: candle 0's
    await wait_until(lambda: _stop_at(venue, expected), timeout=limit + 10, message="applied")
    assert asyncio.get_running_loop().time() - sent >= limit
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
