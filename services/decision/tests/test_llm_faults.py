"""The model call against transaction failures and rate limits: a batch rolled back after the
model answered does not pay for the answer again, and a 429's ``Retry-After`` is waited out."""

from __future__ import annotations

import asyncpg
from robson_contracts import DecisionKind
from robson_kit.bus import Bus
from robson_kit.testing import wait_until

from .factories import signal
from .fake_llm import FakeLlm, Reply, answer
from .test_crash import probe, signals_acked
from .test_llm import GOOD, llm_trader, one_decision, run_case, stored


async def _cut_transactions(database_url: str, schema: str) -> int:
    """Terminate the service's connections that are inside a transaction (the batch waiting
    on the model): its commit can only fail."""
    conn = await asyncpg.connect(database_url)
    try:
        return len(await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
            " AND state = 'idle in transaction'", schema))
    finally:
        await conn.close()


async def test_batch_rolled_back_after_the_model_answered_does_not_ask_the_model_again(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    slow_good = answer(GOOD)
    fake_llm.script("rb", Reply(content=slow_good.content, delay=1.5))
    await llm_trader(service, "rb")
    await bus.publish(signal("LONG", "0.8", price="100", trader_id="rb", account_id="rb"))
    await wait_until(lambda: _asked(fake_llm, "rb"), message="model asked")
    assert await _cut_transactions(database_url, schema) >= 1

    d = await one_decision(bus, "rb")
    await wait_until(lambda: signals_acked(bus, 1), message="signal acked")
    assert len(fake_llm.requests_for("rb")) == 1
    assert d.engine.value == "LLM" and d.decision is DecisionKind.LONG
    row = await stored(service, d.decision_id)
    assert row["model_calls"] == 1
    assert [c["status"] for c in row["model_call_records"]] == ["OK"]
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 1


async def test_http_429_with_retry_after_waits_at_least_that_long_before_asking_again(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(
        bus, service, fake_llm, "patient", Reply(status=429, retry_after="1"), answer(GOOD)
    )
    first, second = fake_llm.arrivals_for("patient")
    assert second - first >= 1.0
    assert d.engine.value == "LLM"
    assert [c["status"] for c in sorted(row["model_call_records"], key=lambda c: c["attempt"])] == [
        "ERROR", "OK"]


async def test_http_429_with_retry_after_beyond_the_limit_answers_with_rules_at_once(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    d, row = await run_case(
        bus, service, fake_llm, "refused", Reply(status=429, retry_after="3600"), answer(GOOD)
    )
    assert len(fake_llm.requests_for("refused")) == 1
    assert d.engine.value == "RULES" and row["fallback_reason"].startswith("LLM_RATE_LIMITED")


async def _asked(fake: FakeLlm, trader: str) -> bool:
    return bool(fake.requests_for(trader))
