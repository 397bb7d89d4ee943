"""The model calls of one fetched batch are asked together (``llm_ask_ahead_concurrency``): at a
candle's close the signals of many symbols arrive at once, and one after another the last would
wait for every call before it. One decision twice in a batch still pays one call."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest
from robson_decision.handlers.asked import OneAtATime
from robson_kit.bus import Bus
from robson_kit.testing import wait_until

from .factories import signal
from .fake_llm import FakeLlm, Reply
from .test_crash import signals_acked
from .test_llm import GOOD, llm_trader, one_decision, stored

SLOW_GOOD = Reply(content=json.dumps(GOOD), delay=0.3)
"""A good answer after 0.3 s (the tests' model timeout is 0.5 s)."""


@pytest.mark.parametrize(("concurrency", "together"), [(1, 1), (4, 3)])
async def test_three_traders_signals_in_one_batch_are_asked_together_up_to_the_setting(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm, concurrency: int, together: int
) -> None:
    traders = [f"burst{concurrency}-{i}" for i in range(3)]
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    for trader in traders:
        fake_llm.script(trader, SLOW_GOOD)
        await llm_trader(first, trader)
    await first.stop()
    for trader in traders:  # all three wait for the next instance: one batch
        await bus.publish(signal("LONG", "0.8", price="100", trader_id=trader, account_id=trader))
    fake_llm.most_in_flight = 0
    service = await start_decision(schema, llm_base_url=fake_llm.url,
                                   llm_ask_ahead_concurrency=concurrency)
    await wait_until(lambda: signals_acked(bus, 3), message="the three signals handled")
    assert fake_llm.most_in_flight == together
    for trader in traders:
        made = await one_decision(bus, trader)
        assert made.engine.value == "LLM"
        assert (await stored(service, made.decision_id))["model_calls"] == 1
        assert len(fake_llm.requests_for(trader)) == 1


async def test_one_signal_twice_in_a_batch_asked_together_pays_one_call(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    """The same signal under two message ids (a webhook sent again) in one batch: its two asks
    run one after another (``OneAtATime``), the second finds the first's record."""
    first = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("twin", SLOW_GOOD)
    await llm_trader(first, "twin")
    await first.stop()
    sent = signal("LONG", "0.8", price="100", trader_id="twin", account_id="twin")
    await bus.publish(sent)
    await bus.publish(sent.model_copy(update={"message_id": uuid4()}))
    await start_decision(schema, llm_base_url=fake_llm.url, llm_ask_ahead_concurrency=4)
    await wait_until(lambda: signals_acked(bus, 2), message="both copies handled")
    assert len(fake_llm.requests_for("twin")) == 1
    await one_decision(bus, "twin")  # one decision, not two


async def test_asks_of_one_decision_wait_for_each_other_and_leave_nothing_behind() -> None:
    asking, log = OneAtATime(), []

    async def ask(decision_id: str, tag: str) -> None:
        async with asking.one(decision_id):
            log.append(f"{tag} in")
            await asyncio.sleep(0.01)
            log.append(f"{tag} out")

    await asyncio.gather(ask("d1", "a"), ask("d1", "b"), ask("d2", "c"))
    assert log.index("a out") < log.index("b in")  # one decision: one after another
    assert log.index("c in") < log.index("a out")  # another: meanwhile
    assert len(asking) == 0
