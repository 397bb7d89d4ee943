"""The llm engine against a local fake OpenAI-compatible server: every scripted answer ends in
its documented outcome, with retries and the fallback to rules visible on the wire."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from robson_contracts import DeadLetter, DecisionKind, TradeDecision
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .conftest import client
from .factories import signal
from .fake_llm import FakeLlm, Reply, answer

GOOD = {
    "decision": "LONG",
    "confidence": 0.82,
    "reasoning": "breakout with volume",
    "entry_price": 100,
    "stop_loss": 98.5,
    "close_fraction": None,
    "modifications": [],
    "take_profits": [{"price": 102, "fraction": 0.5}, {"price": 104.5, "fraction": 0.5}],
}


async def llm_trader(service: Service, trader: str, **extra: Any) -> None:
    async with client(service) as http:
        response = await http.put(
            f"/traders/{trader}/settings", json={"engine": "llm", "model": "fake-model", **extra}
        )
        assert response.status_code == 200, response.text


async def one_decision(bus: Bus, account: str) -> TradeDecision:
    async def found() -> list[TradeDecision]:
        return await read_stream(bus, f"robson.decision.made.{account}.>")

    (d,) = await wait_until(found, message=f"decision for {account}")
    return d


async def stored(service: Service, decision_id: str) -> dict[str, Any]:
    async with client(service) as http:
        return (await http.get(f"/decisions/{decision_id}")).json()


async def run_case(
    bus: Bus, service: Service, fake: FakeLlm, trader: str, *replies: Reply, **settings: Any
) -> tuple[TradeDecision, dict[str, Any]]:
    fake.script(trader, *replies)
    await llm_trader(service, trader, **settings)
    await bus.publish(signal("LONG", "0.8", price="100", trader_id=trader, account_id=trader))
    d = await one_decision(bus, trader)
    return d, await stored(service, d.decision_id)


async def test_good_answer_is_published_as_llm_decision_and_recorded(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(bus, service, fake_llm, "good", answer(GOOD))
    assert (d.decision, d.engine.value, d.triggered_by.value) == (
        DecisionKind.LONG,
        "LLM",
        "AI_ANALYSIS",
    )
    assert (d.model, d.prompt_version) == ("fake-model", "entry-v1")
    assert str(d.stop_loss) == "98.5" and [str(t.price) for t in d.take_profits] == ["102", "104.5"]
    (request,) = fake_llm.requests_for("good")
    fmt = request["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert "stop_loss" in fmt["json_schema"]["schema"]["properties"]
    (call,) = row["model_call_records"]
    assert call["status"] == "OK" and call["completion_tokens"] == 42 and call["prompt_tokens"] > 0
    assert call["model"] == "fake-model" and call["prompt_version"] == "entry-v1"
    assert len(call["prompt_hash"]) == 64 and float(call["latency_ms"]) > 0
    assert row["raw_answer"] == call["raw_answer"]


async def test_malformed_json_becomes_no_trade_validation_failed_with_raw_answer_kept(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(bus, service, fake_llm, "malformed", Reply(content='{"decision": LONG'))
    assert d.decision is DecisionKind.NO_TRADE and d.engine.value == "LLM"
    assert d.reasoning.startswith("VALIDATION_FAILED: answer is not JSON")
    assert row["reason_code"] == "VALIDATION_FAILED"
    assert row["raw_answer"] == '{"decision": LONG'
    assert len(fake_llm.requests_for("malformed")) == 1  # content errors are not retried


async def test_stop_fifty_percent_away_becomes_no_trade_validation_failed(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(bus, service, fake_llm, "farstop", answer({**GOOD, "stop_loss": 50}))
    assert d.decision is DecisionKind.NO_TRADE and d.stop_loss is None
    assert row["reason_code"] == "VALIDATION_FAILED"
    assert any("stop distance 50.00%" in v for v in row["violations"])
    assert row["proposal"]["stop_loss"] == "50"
    assert '"stop_loss": 50' in row["raw_answer"]


async def test_wrong_side_take_profit_becomes_no_trade_validation_failed(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    bad = {**GOOD, "take_profits": [{"price": 97, "fraction": 1}]}
    d, row = await run_case(bus, service, fake_llm, "wrongtp", answer(bad))
    assert d.decision is DecisionKind.NO_TRADE
    assert any("take-profit 0 at 97 must be above the entry 100" in v for v in row["violations"])


async def test_timeouts_are_retried_then_rules_answer_and_say_why(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(bus, service, fake_llm, "slow", Reply(content="{}", delay=1.0))
    assert len(fake_llm.requests_for("slow")) == 3
    assert d.engine.value == "RULES" and d.decision is DecisionKind.LONG
    assert d.reasoning.startswith("[llm unavailable: LLM_TIMEOUT; rules answered]")
    assert row["fallback_reason"].startswith("LLM_TIMEOUT")
    assert [c["status"] for c in row["model_call_records"]] == ["ERROR"] * 3


async def test_http_429_is_retried_with_backoff_and_the_later_answer_is_used(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(
        bus, service, fake_llm, "limited", Reply(status=429), Reply(status=429), answer(GOOD)
    )
    assert len(fake_llm.requests_for("limited")) == 3
    assert d.engine.value == "LLM" and d.decision is DecisionKind.LONG
    attempts = sorted((c["attempt"], c["status"]) for c in row["model_call_records"])
    assert attempts == [(1, "ERROR"), (2, "ERROR"), (3, "OK")]
    assert "LLM_HTTP_429" in " ".join(c["error"] or "" for c in row["model_call_records"])


async def test_http_500_on_every_attempt_falls_back_to_rules(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(bus, service, fake_llm, "broken", Reply(status=500))
    assert len(fake_llm.requests_for("broken")) == 3
    assert d.engine.value == "RULES" and row["fallback_reason"].startswith("LLM_HTTP_500")


async def test_exhausted_call_budget_answers_with_rules_without_calling(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(
        bus, service, fake_llm, "thrifty", answer(GOOD), llm_daily_call_budget=0
    )
    assert fake_llm.requests_for("thrifty") == []
    assert d.engine.value == "RULES" and row["fallback_reason"].startswith("LLM_BUDGET_EXHAUSTED")


async def test_replay_without_a_record_is_an_explicit_error_not_a_live_call(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_mode="replay")
    fake_llm.script("norecord", answer(GOOD))
    await llm_trader(service, "norecord")
    await bus.publish(signal(trader_id="norecord", account_id="norecord"))

    async def letters() -> list[DeadLetter]:
        return await read_stream(bus, s.ALL_DEAD_LETTERS)

    (letter,) = await wait_until(letters, message="dead letter")
    assert letter.reason_code == "REPLAY_RECORD_MISSING"
    assert fake_llm.requests_for("norecord") == []
    assert await read_stream(bus, "robson.decision.made.norecord.>") == []


async def test_signal_resent_under_a_new_message_id_does_not_ask_the_model_again(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, _ = await run_case(bus, service, fake_llm, "resent", answer(GOOD))
    again = signal("LONG", "0.8", price="100", trader_id="resent", account_id="resent")
    await bus.publish(again.model_copy(update={"message_id": uuid4()}))

    async def handled() -> bool:
        info = await service.bus.js.consumer_info(s.SIGNALS.name, "decision_signals")
        return info.ack_floor.stream_seq >= 2

    await wait_until(handled, message="re-sent signal handled")
    assert len(fake_llm.requests_for("resent")) == 1
    assert [x.decision_id for x in await read_stream(bus, "robson.decision.made.resent.>")] == [
        d.decision_id
    ]
    async with client(service) as http:
        calls = (await http.get("/model-calls", params={"trader_id": "resent"})).json()
    assert len(calls) == 1


async def test_dry_runs_need_trade_scope_and_count_against_the_traders_daily_llm_budget(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    from robson_kit.testing import asgi_client, auth_headers

    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("budget", *[answer(GOOD)] * 5)
    await llm_trader(service, "budget", llm_daily_call_budget=2)

    def body(i: int) -> dict[str, Any]:
        sig = signal("LONG", "0.8", price="100", trader_id="budget", account_id="budget", i=i)
        return {"signal": json.loads(sig.model_dump_json())}

    async with asgi_client(service, "http://decision", auth_headers("read")) as reader:
        assert (await reader.post("/decide", json=body(0))).status_code == 403
    async with asgi_client(service, "http://decision", auth_headers("trade")) as trader:
        outs = [(await trader.post("/decide", json=body(i))).json() for i in (1, 2, 3)]
    assert [o["engine"] for o in outs[:2]] == ["LLM", "LLM"]
    assert outs[2]["fallback_reason"].startswith("LLM_BUDGET_EXHAUSTED")
    assert len(fake_llm.requests_for("budget")) == 2
