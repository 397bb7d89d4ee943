"""The llm engine on the management question (manage-v1): an open position reviewed at candle
close through the local fake OpenAI-compatible server. Valid answers become management
decisions for the position; invalid ones become NO_TRADE / VALIDATION_FAILED with the raw
answer kept; exits without a position are refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from robson_contracts import DecisionKind, ModificationKind, TradeDecision
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .factories import FIVE_MIN, T0, bars, candle, closed, opened, signal
from .fake_llm import FakeLlm, Reply, answer
from .test_llm import llm_trader, one_decision, stored

HOLD = {
    "decision": "WATCH",
    "confidence": 0.7,
    "reasoning": "trend intact",
    "entry_price": None,
    "stop_loss": None,
    "take_profits": [],
    "close_fraction": None,
    "modifications": [],
}


def mod(kind: str, **fields: Any) -> dict[str, Any]:
    base = {"new_value": None, "tp_index": None, "fraction": None, "trail_percent": None}
    return {"kind": kind, **base, "reason": f"{kind} please", **fields}


async def _consumed(service: Service, consumer: str, stream: str, n: int) -> bool:
    info = await service.bus.js.consumer_info(stream, consumer)
    return info.num_ack_pending == 0 and info.ack_floor.stream_seq >= n


async def review(
    bus: Bus, service: Service, fake: FakeLlm, trader: str, *replies: Reply
) -> tuple[TradeDecision, dict[str, Any]]:
    """An llm trader's LONG at 100 (stop 98) is reviewed on a candle closing at 102.6."""
    fake.script(trader, *replies)
    await llm_trader(service, trader)
    await bus.publish(opened(trader, position_id=f"pos-{trader}"))
    await wait_until(
        lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
        message="position known",
    )
    bar = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)[0]
    up = bar.__class__(
        bar.open_time, Decimal("100"), Decimal("103"), Decimal("99.5"), Decimal("102.6"), bar.volume
    )
    await bus.publish(candle(up))
    d = await one_decision(bus, trader)
    return d, await stored(service, d.decision_id)


def _asked(fake: FakeLlm, trader: str) -> tuple[str, dict[str, Any]]:
    (request,) = fake.requests_for(trader)
    system, user = request["messages"]
    return system["content"], json.loads(user["content"])


async def test_llm_review_moving_the_stop_to_breakeven_is_published_for_the_position(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    hold = {**HOLD, "modifications": [mod("MOVE_SL", new_value=100)]}
    d, row = await review(bus, service, fake_llm, "be", answer(hold))
    assert (d.decision, d.position_id, d.engine.value) == (DecisionKind.WATCH, "pos-be", "LLM")
    assert d.prompt_version == "manage-v1" and d.signal_id is None
    (m,) = d.modifications
    assert (m.kind, m.previous_value, m.new_value) == (
        ModificationKind.MOVE_SL,
        Decimal("98"),
        Decimal("100"),
    )
    system, context = _asked(fake_llm, "be")
    assert "how should the open position be managed" in system
    position = context["position"]
    assert (position["entry_price"], position["stop_loss"], position["pnl_pct"]) == (
        "100",
        "98",
        "2.6000",
    )
    assert row["question"] == "management" and row["status"] == "PUBLISHED"
    assert [c["prompt_version"] for c in row["model_call_records"]] == ["manage-v1"]


async def test_llm_review_taking_partial_profit_and_trailing_is_published_for_the_position(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    partial = {
        **HOLD,
        "decision": "PARTIAL_TP",
        "close_fraction": 0.5,
        "modifications": [mod("TRAIL_SL", trail_percent=1.5)],
    }
    d, _ = await review(bus, service, fake_llm, "ptp", answer(partial))
    assert (d.decision, d.position_id, d.close_fraction) == (
        DecisionKind.PARTIAL_TP,
        "pos-ptp",
        Decimal("0.5"),
    )
    assert [(m.kind, m.trail_percent) for m in d.modifications] == [
        (ModificationKind.TRAIL_SL, Decimal("1.5"))
    ]


async def test_llm_review_closing_the_position_is_published_as_close(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, _ = await review(bus, service, fake_llm, "out", answer({**HOLD, "decision": "CLOSE"}))
    assert (d.decision, d.position_id, d.engine.value) == (DecisionKind.CLOSE, "pos-out", "LLM")


async def test_llm_review_moving_the_stop_away_becomes_validation_failed_with_raw_answer_kept(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    riskier = json.dumps({**HOLD, "modifications": [mod("MOVE_SL", new_value=97)]})
    d, row = await review(bus, service, fake_llm, "risky", Reply(content=riskier))
    assert d.decision is DecisionKind.NO_TRADE and d.modifications == ()
    assert d.reasoning.startswith("VALIDATION_FAILED: modification 0 (MOVE_SL)")
    assert row["reason_code"] == "VALIDATION_FAILED" and row["position_id"] == "pos-risky"
    assert row["violations"] == [
        "modification 0 (MOVE_SL): stop 97 moves away from the current stop 98 "
        "(never increase risk)"
    ]
    assert row["raw_answer"] == riskier
    assert row["proposal"]["modifications"][0]["new_value"] == "97"


async def test_llm_review_trailing_wider_than_the_stop_bound_becomes_validation_failed(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    wide = {**HOLD, "modifications": [mod("TRAIL_SL", trail_percent=40)]}
    d, row = await review(bus, service, fake_llm, "wide", answer(wide))
    assert d.decision is DecisionKind.NO_TRADE and row["reason_code"] == "VALIDATION_FAILED"
    assert row["violations"] == ["modification 0 (TRAIL_SL): trail_percent 40 must be in (0, 10]"]


async def test_llm_close_without_an_open_position_is_rejected_as_validation_failed(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("flat", answer({**HOLD, "decision": "CLOSE"}))
    await llm_trader(service, "flat")
    await bus.publish(signal("SHORT", "0.9", trader_id="flat", account_id="flat"))
    d = await one_decision(bus, "flat")
    row = await stored(service, d.decision_id)
    assert d.decision is DecisionKind.NO_TRADE and d.position_id is None
    assert row["reason_code"] == "VALIDATION_FAILED"
    assert row["violations"] == [
        "CLOSE with modifications or exits needs an open position on BTCUSDT, and there is none"
    ]
    assert row["proposal"]["decision"] == "CLOSE"


async def test_closed_position_gets_no_review_and_no_model_call(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("done", answer({**HOLD, "decision": "CLOSE"}))
    await llm_trader(service, "done")
    await bus.publish(opened("done", position_id="pos-done"))
    await bus.publish(closed("done", position_id="pos-done", closed_at=T0 + FIVE_MIN))
    await wait_until(
        lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 2),
        message="position closed",
    )
    for bar in bars(3, end=T0 + FIVE_MIN * 3):
        await bus.publish(candle(bar))
    await wait_until(
        lambda: _consumed(service, "decision_candles", s.MARKET.name, 3), message="candles"
    )
    assert fake_llm.requests_for("done") == []
    assert await read_stream(bus, "robson.decision.made.done.>") == []


async def test_reviews_answered_watch_spend_the_daily_llm_budget_then_the_rules_answer(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A WATCH with no change stores no decision, but its call was paid: with a budget of 2,
    the third review must not ask the model (it falls back to the rules, which see nothing)."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("thrift", *[answer(HOLD)] * 5)
    await llm_trader(service, "thrift", llm_daily_call_budget=2, trail_at_r=None,
                     breakeven_at_r=None)
    await bus.publish(opened("thrift", position_id="pos-thrift"))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
    history = bars(4, start=Decimal("100"), end=T0 + FIVE_MIN * 4)
    for bar in history:
        await bus.publish(candle(bar))
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 4),
                     message="four candles reviewed")
    assert len(fake_llm.requests_for("thrift")) == 2  # uncounted, all four reviews would ask
    assert await read_stream(bus, "robson.decision.made.thrift.>") == []


async def test_llm_review_with_a_take_profit_beyond_any_price_is_validation_failed_not_a_lost_candle(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """The answer parses and passes the checks, but a TradeDecision cannot carry 1e30: the
    candle batch used to fail on every delivery (the candle itself dead-lettered)."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    absurd = {**HOLD, "modifications": [mod("ADD_TP", new_value=1e30, fraction=0.5)]}
    d, row = await review(bus, service, fake_llm, "absurd", answer(absurd))
    assert d.decision is DecisionKind.NO_TRADE and row["reason_code"] == "VALIDATION_FAILED"
