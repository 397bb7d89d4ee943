"""The model call against transaction failures and rate limits: no transaction waits on the
model, a batch rolled back after the model answered does not pay for the answer again, and a
429's ``Retry-After`` is waited out."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import asyncpg
from robson_contracts import DecisionKind
from robson_contracts import subjects as s
from robson_decision.domain.context import Bar
from robson_decision.handlers.ahead import _with_candle
from robson_kit import metrics
from robson_kit.bus import Bus
from robson_kit.testing import open_batch_transactions, read_stream, wait_until

from .conftest import client
from .factories import FIVE_MIN, T0, bars, candle, opened, signal
from .fake_llm import FakeLlm, Reply, answer
from .test_crash import probe, signals_acked
from .test_llm import GOOD, llm_trader, one_decision, run_case, stored
from .test_llm_management import HOLD, _consumed, mod, review


async def _refuse_first_decision(database_url: str, schema: str) -> None:
    """A real database failure after the model answered: the first insert of a decision raises
    (a sequence counts, so the count survives the rollback it causes)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        await conn.execute(f"""
            CREATE SEQUENCE "{schema}".decision_inserts;
            CREATE FUNCTION "{schema}".refuse_first_decision() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                IF nextval('"{schema}".decision_inserts') = 1 THEN
                    RAISE EXCEPTION 'injected: first decision insert refused';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_first BEFORE INSERT ON "{schema}".decisions
            FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse_first_decision();
        """)
    finally:
        await conn.close()


async def test_model_is_asked_while_no_transaction_of_the_service_is_open(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    fake_llm.script("open", Reply(content=answer(GOOD).content, delay=1.5))
    await llm_trader(service, "open")
    await bus.publish(signal("LONG", "0.8", price="100", trader_id="open", account_id="open"))
    await wait_until(lambda: _asked(fake_llm, "open"), message="model asked")
    assert await open_batch_transactions(database_url, schema) == 0  # the model answers meanwhile
    d = await one_decision(bus, "open")
    assert d.engine.value == "LLM" and d.decision is DecisionKind.LONG
    assert len(fake_llm.requests_for("open")) == 1


async def test_review_asks_the_model_while_no_transaction_of_the_service_is_open(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    slow_hold = Reply(content=answer(HOLD | {"modifications": [mod("MOVE_SL", new_value=100)]})
                      .content, delay=1.5)
    reviewed = asyncio.create_task(review(bus, service, fake_llm, "rv", slow_hold))
    await wait_until(lambda: _asked(fake_llm, "rv"), message="model asked")
    assert await open_batch_transactions(database_url, schema) == 0
    d, row = await reviewed
    assert (d.position_id, d.engine.value, row["model_calls"]) == ("pos-rv", "LLM", 1)
    assert len(fake_llm.requests_for("rv")) == 1


async def test_dry_run_asks_the_model_while_no_transaction_of_the_service_is_open(
    schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """The server aborts a transaction idle for two lock checks (4 s): a dry run's read of the
    trader's context ends before the model is asked."""
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    fake_llm.script("dry", Reply(content=answer(GOOD).content, delay=1.5))
    await llm_trader(service, "dry")
    sig = signal("LONG", "0.8", price="100", trader_id="dry", account_id="dry")
    async with client(service) as http:
        dry_run = asyncio.create_task(
            http.post("/decide", json={"signal": json.loads(sig.model_dump_json())}))
        await wait_until(lambda: _asked(fake_llm, "dry"), message="model asked")
        await asyncio.sleep(0.7)  # the model answers after 1.5 s
        assert await _idle_in_transaction(database_url, schema, longer_than=0.5) == 0
        answered = await dry_run
    assert answered.status_code == 200, answered.text
    assert answered.json()["engine"] == "LLM" and answered.json()["decision"]["decision"] == "LONG"
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 1


async def _idle_in_transaction(database_url: str, schema: str, longer_than: float) -> int:
    """The service's backends waiting inside a transaction (of any kind, reads included) for
    longer than ``longer_than`` seconds (the service's loops wait there for a moment)."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
            " AND state = 'idle in transaction'"
            " AND now() - state_change > make_interval(secs => $2)", schema, longer_than))
    finally:
        await conn.close()


async def test_batch_rolled_back_after_the_model_answered_does_not_ask_the_model_again(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    await _refuse_first_decision(database_url, schema)
    fake_llm.script("rb", answer(GOOD))
    await llm_trader(service, "rb")
    await bus.publish(signal("LONG", "0.8", price="100", trader_id="rb", account_id="rb"))

    d = await one_decision(bus, "rb")
    await wait_until(lambda: signals_acked(bus, 1), message="signal acked")
    assert await probe(database_url, schema, "SELECT last_value FROM decision_inserts") == 2
    assert len(fake_llm.requests_for("rb")) == 1
    assert d.engine.value == "LLM" and d.decision is DecisionKind.LONG
    row = await stored(service, d.decision_id)
    assert row["model_calls"] == 1
    assert [c["status"] for c in row["model_call_records"]] == ["OK"]
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 1


async def test_review_asked_inside_its_batch_past_the_idle_limit_is_retried_on_the_recorded_answer(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A review the ask-ahead cannot foresee (its candle follows another of the same batch) asks
    the model inside the batch transaction. An answer slower than the service's idle limit (2
    lock checks: 1 s here) gets that transaction aborted by the server; the batch is handled
    again and the review finds the answer recorded meanwhile: the model is not asked twice."""
    settings = {"llm_base_url": fake_llm.url, "llm_timeout_seconds": 5, "lock_check_seconds": 0.5}
    first = await start_decision(schema, **settings)
    quick, slow = answer(HOLD), Reply(content=answer(HOLD).content, delay=1.5)
    fake_llm.script("idle", quick, quick, slow)
    await llm_trader(first, "idle", trail_at_r=None, breakeven_at_r=None)
    await bus.publish(opened("idle", position_id="pos-idle"))
    await wait_until(lambda: _consumed(first, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
    c0, c1, c2 = bars(3, start=Decimal("100"), end=T0 + FIVE_MIN * 3)
    await bus.publish(candle(c0))
    await wait_until(lambda: _consumed(first, "decision_candles", s.MARKET.name, 1),
                     message="the first candle reviewed")
    await first.stop()
    for bar in (c1, c2):  # both wait for the next instance: one batch
        await bus.publish(candle(bar))
    split = metrics.MESSAGES.labels("decision", "decision_candles", "batch_split")
    splits_before = split._value.get()
    service = await start_decision(schema, **settings)
    await wait_until(lambda: len(fake_llm.requests_for("idle")) == 3, message="the third review")
    assert await open_batch_transactions(database_url, schema) == 1  # asked inside the batch
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 3), timeout=30,
                     message="both candles reviewed")
    assert split._value.get() == splits_before + 1  # the aborted batch, handled again alone
    assert len(fake_llm.requests_for("idle")) == 3
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 3
    assert await probe(database_url, schema, "SELECT count(*) FROM llm_usage") == 3
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
    assert service.fence.held and service.halted is None


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


def test_review_bars_asked_ahead_need_the_candle_before_committed() -> None:
    def bar(minutes: int) -> Bar:
        one = Decimal("1")
        return Bar(T0 + timedelta(minutes=minutes), one, one, one, one, one)

    now = bar(15)
    assert _with_candle((bar(0), bar(5), bar(10)), now, 300, 3) == (bar(5), bar(10), now)
    assert _with_candle((bar(0), bar(5)), now, 300, 3) is None  # bar(10) may be in the batch
    assert _with_candle((bar(5), bar(10), now), now, 300, 3) == (bar(5), bar(10), now)
    assert _with_candle((), now, 300, 3) == (now,)
