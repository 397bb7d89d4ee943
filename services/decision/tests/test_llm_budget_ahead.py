"""Review of the ask-ahead's daily budget (``handlers/ahead.py``): a model call asked ahead that
no decision will use is paid for nothing. The handler counts, inside its transaction, every
decision of the trader stored before it (the batch's earlier ones included); whatever the
ask-ahead counts less than that, it pays for calls the handler then refuses with
LLM_BUDGET_EXHAUSTED."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from robson_contracts import PositionModified, TriggeredBy, derive_id, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.testing import read_stream, wait_until

from .factories import FIVE_MIN, T0, bars, candle, opened, signal
from .fake_llm import FakeLlm, Reply, answer
from .test_crash import probe, signals_acked
from .test_llm import GOOD, llm_trader, stored
from .test_llm_management import HOLD, _consumed, mod


async def test_two_positions_of_one_trader_reviewed_on_one_candle_with_one_call_left_pay_one_call(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """One trader, two open positions on BTCUSDT (two accounts), one call left today: the
    candle's first review spends it, the second is answered by the rules (budget exhausted),
    so the ask-ahead must ask the model once — not once per position."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("pair", answer(HOLD))
    await llm_trader(service, "pair", llm_daily_call_budget=1, trail_at_r=None,
                     breakeven_at_r=None)
    await bus.publish(opened("pair", position_id="pos-pair-a", account_id="pair-a"))
    await bus.publish(opened("pair", position_id="pos-pair-b", account_id="pair-b"))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 2),
                     message="both positions known")
    (bar,) = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)
    await bus.publish(candle(bar))
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 1),
                     message="the candle reviewed")
    await _one_call_paid_and_used(database_url, schema, fake_llm, "pair")


async def test_backlog_of_two_signals_of_one_trader_with_one_call_left_pays_one_call(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """Two entry signals of one trader wait in one batch, one call left today: the first entry
    spends it, the second is answered by the rules (budget exhausted). The reviews' ask-ahead
    counts a batch's earlier asks against the budget (``_asked_for``); the entries' does not,
    and pays for a call no decision uses."""
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("twice", answer(GOOD))
    await llm_trader(first, "twice", llm_daily_call_budget=1)
    await first.stop()
    for i in (1, 2):  # both wait for the next instance: one batch
        await bus.publish(signal("LONG", "0.8", price="100", i=i, trader_id="twice",
                                 account_id="twice"))
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    await wait_until(lambda: signals_acked(bus, 2), message="both signals handled")
    made = await wait_until(lambda: _decisions(bus, "twice", 2), message="two decisions")
    rows = [await stored(service, d.decision_id) for d in made]
    assert sorted(r["model_calls"] for r in rows) == [0, 1]  # the second: the rules, budget spent
    assert len(fake_llm.requests_for("twice")) == 1, (
        f"{len(fake_llm.requests_for('twice'))} model calls paid, "
        f"{sum(r['model_calls'] for r in rows)} used, for a budget of 1")


async def test_backlog_of_one_traders_candles_on_two_symbols_with_one_call_left_pays_one_call(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """One trader holds BTCUSDT and ETHUSDT; both symbols' candles of the same 5 minutes wait in
    one batch, one call left today. The BTCUSDT review spends it; the ETHUSDT review after it,
    in the same transaction, is answered by the rules. ``_asked_for`` counts only the earlier
    candles of the same symbol (and by open time alone), so the ETHUSDT review is asked too."""
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("both", answer(HOLD))
    await llm_trader(first, "both", llm_daily_call_budget=1, trail_at_r=None,
                     breakeven_at_r=None)
    await bus.publish(opened("both", position_id="pos-both-btc"))
    await bus.publish(opened("both", position_id="pos-both-eth").model_copy(
        update={"symbol": "ETHUSDT"}))
    await wait_until(lambda: _consumed(first, "decision_positions", s.POSITIONS.name, 2),
                     message="both positions known")
    await first.stop()
    (bar,) = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)
    for symbol in ("BTCUSDT", "ETHUSDT"):  # both wait for the next instance: one batch
        await bus.publish(candle(bar, symbol=symbol))
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 2),
                     message="both candles reviewed")
    await _one_call_paid_and_used(database_url, schema, fake_llm, "both")


async def _decisions(bus: Bus, account: str, n: int) -> list:
    found = await read_stream(bus, f"robson.decision.made.{account}.>")
    return found if len(found) >= n else []


async def test_entry_and_review_of_one_trader_at_one_candle_close_with_one_call_left_pay_one_call(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """At a candle's close the signal service publishes the candle and the signal together: the
    trader's open position is reviewed (candles consumer) while its new signal is decided
    (signals consumer). One call left today: whichever decision commits first spends it, the
    other is answered by the rules — but each consumer's ask-ahead counts only the stored
    decisions, so both ask (the model answers slowly: both asks are in flight together). Then
    either one answer is paid for nothing, or both handlers (two transactions, neither seeing
    the other's decision) use theirs and the budget is overrun."""
    service = await start_decision(schema, llm_base_url=fake_llm.url, llm_timeout_seconds=5)
    fake_llm.script("race", Reply(content=answer(GOOD).content, delay=0.5))
    await llm_trader(service, "race", llm_daily_call_budget=1, trail_at_r=None,
                     breakeven_at_r=None)
    await bus.publish(opened("race", position_id="pos-race"))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
    (bar,) = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)
    await asyncio.gather(
        bus.publish(candle(bar)),
        bus.publish(signal("LONG", "0.8", price="100", trader_id="race", account_id="race",
                           candle_time=bar.open_time)))
    await wait_until(lambda: signals_acked(bus, 1), message="the signal decided")
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 1),
                     message="the candle reviewed")
    used = await probe(database_url, schema, "SELECT (SELECT coalesce(sum(model_calls), 0)"
                       " FROM decisions) + (SELECT coalesce(sum(model_calls), 0) FROM llm_usage)")
    assert len(fake_llm.requests_for("race")) == 1, (
        f"{len(fake_llm.requests_for('race'))} model calls paid, {used} used, for a budget of 1")


async def test_candle_redelivered_after_its_review_committed_asks_the_model_nothing(
    bus: Bus, schema: str, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    """A candle whose review committed comes back (its ack lost, or a copy past JetStream's
    duplicate window): the inbox drops it, so no review will use anything asked for it. The
    ask-ahead still runs for it (``prepare`` runs for duplicates) and, its position's stop
    moved since by the review's own MOVE_SL, asks a new prompt: a paid call for nothing."""
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("again", answer(HOLD | {"modifications": [mod("MOVE_SL", new_value=100)]}))
    await llm_trader(service, "again", trail_at_r=None, breakeven_at_r=None)
    await bus.publish(opened("again", position_id="pos-again"))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
    (bar,) = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)
    first = candle(bar.__class__(bar.open_time, Decimal("100"), Decimal("103"), Decimal("99.5"),
                                 Decimal("102.6"), bar.volume))  # closes at 102.6
    await bus.publish(first)
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 1),
                     message="the candle reviewed")
    (d,) = await read_stream(bus, "robson.decision.made.again.>")
    assert [m.new_value for m in d.modifications] == [Decimal("100")]
    # position applies the move: the stop is 100 now
    await bus.publish(PositionModified(
        **{k: v for k, v in opened("again", position_id="pos-again").model_dump().items()
           if k in {"account_id", "position_id", "trader_id", "symbol", "side", "correlation_id"}},
        message_id=derive_id("test-modified", "pos-again"), occurred_at=T0 + FIVE_MIN,
        modification=d.modifications[0], triggered_by=TriggeredBy.AI_ANALYSIS,
        stop_loss=Decimal("100"), take_profits=opened("again").take_profits))
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 2),
                     message="the move known")
    await bus.publish_raw(s.subject_for(first), encode(first),
                          {**headers_for(first), "Nats-Msg-Id": "a-later-copy"})
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 2),
                     message="the copy dropped")
    assert await probe(database_url, schema, "SELECT count(*) FROM decisions") == 1
    assert len(fake_llm.requests_for("again")) == 1, (
        f"{len(fake_llm.requests_for('again'))} model calls paid for one review")


async def _one_call_paid_and_used(database_url: str, schema: str, fake: FakeLlm,
                                  trader: str) -> None:
    assert await probe(database_url, schema,
                       "SELECT coalesce(sum(model_calls), 0) FROM llm_usage") == 1  # used
    paid = len(fake.requests_for(trader))
    assert paid == 1, f"{paid} model calls paid for a budget of 1"
