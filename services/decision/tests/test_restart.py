"""After a restart the in-memory context is rebuilt from the schema: settings, candles, the open
position and the closed trades a decision sees are the ones consumed before the restart."""

from __future__ import annotations

from robson_contracts import DecisionKind, TradeDecision
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .conftest import client
from .factories import FIVE_MIN, T0, bars, candle, closed, opened, signal

HISTORY = bars(30, end=T0)


async def _acked(service: Service, stream: str, consumer: str, n: int) -> bool:
    info = await service.bus.js.consumer_info(stream, consumer)
    return info.ack_floor.stream_seq >= n


async def _decision(bus: Bus) -> list[TradeDecision] | None:
    return await read_stream(bus, "robson.decision.made.trader1.>") or None


async def test_restarted_service_decides_from_the_context_it_consumed_before(
    bus: Bus, schema: str, start_decision
) -> None:
    first = await start_decision(schema)
    async with client(first) as http:
        put = await http.put("/traders/trader1/settings", json={"exit_on_opposite_strength": "0.7"})
        assert put.status_code == 200
    for bar in HISTORY:
        await bus.publish(candle(bar))
    await bus.publish(closed(position_id="pos-old", pnl="-2", closed_at=T0 - FIVE_MIN * 10))
    await bus.publish(opened(position_id="pos-live", opened_at=T0 - FIVE_MIN * 5))
    await wait_until(
        lambda: _acked(first, s.MARKET.name, "decision_candles", len(HISTORY)), message="candles"
    )
    await wait_until(
        lambda: _acked(first, s.POSITIONS.name, "decision_positions", 2), message="positions"
    )
    await first.stop()

    second = await start_decision(schema)
    # Opposite and 0.75 strong: closes only with the stored setting (the default needs 0.8).
    await bus.publish(signal("SHORT", "0.75", price=str(HISTORY[-1].close), account_id="trader1"))
    (d,) = await wait_until(lambda: _decision(bus), message="decision after restart")
    assert (d.decision, d.position_id) == (DecisionKind.CLOSE, "pos-live")
    async with client(second) as http:
        row = (await http.get(f"/decisions/{d.decision_id}")).json()
        settings = (await http.get("/traders/trader1/settings")).json()
    assert settings["exit_on_opposite_strength"] == "0.7"
    context = row["context"]
    assert context["recent_performance"] == "last 1 trades: 0W/1L, avg -2.00%"
    assert context["position"]["position_id"] == "pos-live"
    assert [c[0] for c in context["candles"]] == [b.open_time.isoformat() for b in HISTORY[-15:]]
