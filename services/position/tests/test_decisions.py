"""Management decisions from `decision` and the live update hub, on real NATS + Postgres."""

from __future__ import annotations

import httpx
from robson_contracts import PositionModificationRejected, TradeDecision
from robson_kit.bus import Bus
from robson_kit.testing import wait_until
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for

from .factories import T0, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import _events, status_is


def decision(pid: str, kind: str, **extra) -> TradeDecision:
    return TradeDecision(occurred_at=T0 + minutes(20), account_id="acc1", decision_id=f"m-{kind}",
                         trader_id="t1", symbol="BTCUSDT", decision=kind, confidence="0.9",
                         triggered_by="AI_ANALYSIS", engine="LLM", position_id=pid, **extra)


async def test_ai_partial_tp_then_close_decisions_close_the_position_with_ai_close(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    hub = service.deps.runtime.hub
    updates = hub.subscribe()
    g = gate(gate_id="g-ai")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="open")
    await bus.publish(decision(pid, "PARTIAL_TP", close_fraction="0.5"))
    view = await wait_until(status_is(api, pid, "PARTIALLY_CLOSED"), message="half closed")
    assert view["remaining_quantity"].rstrip("0").rstrip(".") == "0.1"
    await bus.publish(decision(pid, "CLOSE", modifications=(
        {"kind": "MOVE_SL", "new_value": "1"},)))
    view = await wait_until(status_is(api, pid, "CLOSED"), message="closed")
    assert view["exit_reason"] == "AI_CLOSE"
    rejected = await wait_until(lambda: _events(bus, PositionModificationRejected), message="rejected")
    assert "POSITION_NOT_OPEN" in [v.name for v in rejected[0].violations]
    seen = []
    while not updates.empty():
        seen.append(updates.get_nowait()["status"])
    assert "OPEN" in seen and seen[-1] == "CLOSED"  # the SSE feed saw the lifecycle
