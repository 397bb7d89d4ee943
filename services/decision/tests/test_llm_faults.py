"""The model call against transaction failures and rate limits: no transaction waits on the
model, a batch rolled back after the model answered does not pay for the answer again, and a
429's ``Retry-After`` is waited out."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
from robson_contracts import DecisionKind
from robson_contracts import subjects as s
from robson_decision.domain.context import Bar
from robson_decision.handlers.ahead import _unstored_before, _with_candle
from robson_decision.handlers.waits import Waits
from robson_kit import metrics
from robson_kit.bus import Bus
from robson_kit.consumer import Consumer
from robson_kit.service import Service
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


async def test_review_candle_behind_an_uncommitted_candle_never_asks_the_model_inside_a_transaction(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A backlog: two candles in one batch while an llm trader's position is open. The second
    review cannot be asked ahead (the candle before it is not committed when ``prepare`` runs),
    and the model answers slower than the service's idle limit (2 lock checks: 1 s here): asked
    inside the batch transaction it would hold it open until the server aborts it. The review
    waits instead (``NotYet``): the first candle commits, and its redelivery asks ahead."""
    settings = {"llm_base_url": fake_llm.url, "llm_timeout_seconds": 5, "lock_check_seconds": 0.5}
    first = await start_decision(schema, **settings)
    fake_llm.script(
        "backlog", answer(HOLD), _slowly_moving_stop_to(98.3), _slowly_moving_stop_to(98.5))
    await _holding(bus, first, "backlog")
    c0, c1, c2 = bars(3, start=Decimal("100"), end=T0 + FIVE_MIN * 3)
    await bus.publish(candle(c0))
    await wait_until(lambda: _consumed(first, "decision_candles", s.MARKET.name, 1),
                     message="the first candle reviewed")
    await first.stop()
    for bar in (c1, c2):  # both wait for the next instance: one batch
        await bus.publish(candle(bar))
    waited = metrics.MESSAGES.labels("decision", "decision_candles", "later")
    waited_before = waited._value.get()
    service = await start_decision(schema, **settings)
    async with _model_asked_inside_a_transaction(fake_llm, database_url, schema) as inside:
        await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 3),
                         timeout=30, message="both candles reviewed")
    assert inside == [], "the model was asked while a batch transaction was open"
    published = await read_stream(bus, "robson.decision.made.backlog.>")
    assert sorted(m.new_value for d in published for m in d.modifications) == [
        Decimal("98.3"), Decimal("98.5")]
    assert len({d.decision_id for d in published}) == len(published) == 2
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests_for("backlog")]
    assert len(prompts) == len(set(prompts)) == 3  # each review's prompt asked once
    assert await probe(database_url, schema, "SELECT count(*) FROM model_calls") == 3
    assert waited._value.get() == waited_before  # foreseen: the backlog asked ahead in one pass
    candles = _consumer(service, "decision_candles")
    assert (candles.pauses, candles.paused) == (0, None)
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []
    assert service.fence.held and service.halted is None


async def test_backlog_longer_than_the_wait_bound_is_asked_ahead_in_one_pass(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A backlog of candles in one batch: each review's bars are foreseen from the stored ones
    and the candles handed before it, so every one is asked ahead and none waits (waiting, each
    redelivery would clear one candle, and JetStream's delivery limit the tail of a long one)."""
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("queue", answer(HOLD))
    await _holding(bus, first, "queue")
    backlog = Waits().limit * 3
    history = bars(backlog + 1, start=Decimal("100"), end=T0 + FIVE_MIN * (backlog + 1))
    waited = metrics.MESSAGES.labels("decision", "decision_candles", "later")
    await bus.publish(candle(history[0]))
    await wait_until(lambda: _consumed(first, "decision_candles", s.MARKET.name, 1),
                     message="the first candle reviewed")
    await first.stop()
    for bar in history[1:]:
        await bus.publish(candle(bar))
    waited_before = waited._value.get()
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, backlog + 1),
                     timeout=60, message="the backlog reviewed")
    assert waited._value.get() == waited_before
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests_for("queue")]
    assert len(prompts) == len(set(prompts)) == backlog + 1
    # A review the model answered WATCH stores no decision but its call (the rules see nothing).
    assert await probe(database_url, schema, "SELECT count(*) FROM llm_usage") == backlog + 1
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []


async def test_first_candles_in_one_batch_are_asked_ahead_on_the_bars_the_review_will_read(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """No candle stored yet, two in one batch: the second's review will read both, so it is
    asked ahead on both (not on itself alone: a paid call no decision would use)."""
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("fresh", answer(HOLD))
    await _holding(bus, first, "fresh")
    await first.stop()
    for bar in bars(2, start=Decimal("100"), end=T0 + FIVE_MIN * 2):
        await bus.publish(candle(bar))
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 2),
                     message="both candles reviewed")
    assert sorted(_candles_asked(fake_llm, "fresh")) == [1, 2]  # asked together: either order


async def test_candle_after_a_gap_in_the_market_data_is_asked_ahead_not_waited_for(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """The candle before never came: the review reads the bars stored, which the ask-ahead can
    foresee, so it neither waits for a candle that will not come nor ends in the rules."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("gap", answer(HOLD))
    await _holding(bus, service, "gap")
    c0, _, c2 = bars(3, start=Decimal("100"), end=T0 + FIVE_MIN * 3)
    waited = metrics.MESSAGES.labels("decision", "decision_candles", "later")
    waited_before = waited._value.get()
    await bus.publish(candle(c0))
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 1),
                     message="the candle before the gap reviewed")
    await bus.publish(candle(c2))
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 2),
                     message="the candle after the gap reviewed")
    assert _candles_asked(fake_llm, "gap") == [1, 2]
    assert await probe(database_url, schema, "SELECT count(*) FROM llm_usage") == 2
    assert waited._value.get() == waited_before


def _candles_asked(fake: FakeLlm, trader: str) -> list[int]:
    """How many candles each prompt the model was asked showed, in order."""
    return [len(json.loads(r["messages"][-1]["content"])["candles"])
            for r in fake.requests_for(trader)]


async def test_entry_never_asked_ahead_is_answered_by_the_rules_after_a_few_redeliveries(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A prompt the ask-ahead never foresees (here it asks nothing at all) is not waited for
    forever: after a few redeliveries the rules answer, saying why, as when the model is down."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("unforeseen", answer(GOOD))
    await llm_trader(service, "unforeseen")
    service.deps.decider.ask_ahead = _asks_nothing  # type: ignore[method-assign]
    waited = metrics.MESSAGES.labels("decision", "decision_signals", "later")
    waited_before = waited._value.get()
    await bus.publish(
        signal("LONG", "0.8", price="100", trader_id="unforeseen", account_id="unforeseen"))
    d = await one_decision(bus, "unforeseen")
    await wait_until(lambda: signals_acked(bus, 1), message="signal acked")
    row = await stored(service, d.decision_id)
    assert d.engine.value == "RULES" and d.decision is DecisionKind.LONG
    assert d.reasoning.startswith("[llm unavailable: LLM_NOT_ASKED_AHEAD; rules answered]")
    assert row["fallback_reason"].startswith("LLM_NOT_ASKED_AHEAD") and row["model_calls"] == 0
    assert waited._value.get() - waited_before == Waits().limit
    assert fake_llm.requests_for("unforeseen") == []
    assert len(await read_stream(bus, "robson.decision.made.unforeseen.>")) == 1
    assert await read_stream(bus, s.ALL_DEAD_LETTERS) == []


def _slowly_moving_stop_to(stop: float) -> Reply:
    return Reply(content=answer(HOLD | {"modifications": [mod("MOVE_SL", new_value=stop)]})
                 .content, delay=2.0)


async def _asks_nothing(*_: object) -> None:
    return None


def _consumer(service: Service, name: str) -> Consumer:
    return next(c for c in service.consumers if c.spec.name == name)


@asynccontextmanager
async def _model_asked_inside_a_transaction(
    fake: FakeLlm, database_url: str, schema: str
) -> AsyncIterator[list[int]]:
    """The requests (their count so far) the fake model held while a batch transaction of the
    service was open, sampled until the block ends. A sample counts only when the same request
    was in flight before and after the look at the database (the batch that follows an answer
    is not the one that waited on it)."""
    seen: list[int] = []

    async def watch() -> None:
        while True:
            answered, holding = fake.answered, fake.in_flight
            if holding and await open_batch_transactions(database_url, schema) \
                    and fake.answered == answered and fake.in_flight:
                seen.append(len(fake.requests))
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
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


def test_review_bars_asked_ahead_are_the_stored_ones_then_the_batchs_earlier_candles() -> None:
    def bar(minutes: int) -> Bar:
        one = Decimal("1")
        return Bar(T0 + timedelta(minutes=minutes), one, one, one, one, Decimal(minutes))

    def handed(*minutes: int) -> dict[datetime, Bar]:
        return {T0 + timedelta(minutes=m): bar(m) for m in minutes}

    def _bars(stored: tuple[Bar, ...], now: Bar, limit: int,
              handed: dict[datetime, Bar]) -> tuple[Bar, ...]:
        earlier = _unstored_before(stored, now, timedelta(minutes=5), handed)
        return stored if earlier is None else _with_candle(stored, earlier, now, limit)

    now, every = bar(15), handed(0, 5, 10, 15)
    assert _bars((bar(0), bar(5), bar(10)), now, 3, every) == (bar(5), bar(10), now)
    # bar(10) handed, not stored: the batch's earlier candle, written before this one
    assert _bars((bar(0), bar(5)), now, 4, every) == (bar(0), bar(5), bar(10), now)
    assert _bars((bar(0), bar(5)), now, 3, handed(0, 5, 15)) == (
        bar(0), bar(5), now)  # bar(10) never came
    assert _bars((bar(5), bar(10), now), now, 3, every) == (bar(5), bar(10), now)
    assert _bars((), now, 3, handed(15)) == (now,)
    assert _bars((), now, 3, handed(10, 15)) == (bar(10), now)  # one batch
    assert _bars((), now, 2, every) == (bar(10), now)  # no further back than read
    # a gap inside the backlog: the candles handed after it, not the stored ones before it
    assert _bars((bar(0),), now, 4, handed(0, 10, 15)) == (bar(0), bar(10), now)


async def _holding(bus: Bus, service: Service, trader: str) -> None:
    """An LLM trader (no trailing, no breakeven) with one open position, ``pos-<trader>``,
    known to decision."""
    await llm_trader(service, trader, trail_at_r=None, breakeven_at_r=None)
    await bus.publish(opened(trader, position_id=f"pos-{trader}"))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
