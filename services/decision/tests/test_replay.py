"""Replay determinism: the same inputs twice → byte-identical decisions, for the rules engine
and for the llm engine answering from its model-call record."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, reset_streams, unique_schema, wait_until
from robson_kit.testing.helpers import drop_schema

from .conftest import client
from .factories import T0, bars, candle, signal
from .fake_llm import FakeLlm, Reply, answer
from .test_llm import GOOD

HISTORY = bars(40, end=T0)
SIGNALS = [
    signal("LONG", "0.8", price=str(HISTORY[-1].close), i=1),
    signal("SHORT", "0.9", price=str(HISTORY[-1].close), i=2, trader_id="trader2"),
    signal("LONG", "0.4", price=str(HISTORY[-1].close), i=3, trader_id="trader3"),
    signal("SHORT", "0.7", price=str(HISTORY[-1].close), i=4, trader_id="trader4"),
]


async def _run(bus: Bus, start_decision, schema: str, llm: bool, **overrides: Any) -> list[bytes]:
    await reset_streams(bus)
    service = await start_decision(schema, **overrides)
    if llm:
        async with client(service) as http:
            for sig in SIGNALS:
                await http.put(
                    f"/traders/{sig.trader_id}/settings",
                    json={"engine": "llm", "model": "fake-model"},
                )
    for bar in HISTORY:
        await bus.publish(candle(bar))

    async def candles_in() -> bool:
        info = await service.bus.js.consumer_info(s.MARKET.name, "decision_candles")
        return info.ack_floor.stream_seq >= len(HISTORY)

    await wait_until(candles_in, message="history consumed")
    for sig in SIGNALS:
        await bus.publish(sig)

    async def all_out() -> list[Any] | None:
        found = await read_stream(bus, s.ALL_DECISIONS, raw=True)
        return found if len(found) >= len(SIGNALS) else None

    out = await wait_until(all_out, message="every decision")
    await asyncio.sleep(0.2)
    await service.stop()
    assert len(await read_stream(bus, s.ALL_DECISIONS, raw=True)) == len(SIGNALS)
    return sorted(m.data for m in out)


async def test_rules_engine_replayed_twice_gives_byte_identical_decisions(
    bus: Bus, database_url: str, start_decision
) -> None:
    schemas = [unique_schema(), unique_schema()]
    try:
        first = await _run(bus, start_decision, schemas[0], llm=False)
        second = await _run(bus, start_decision, schemas[1], llm=False)
    finally:
        for name in schemas:
            await drop_schema(database_url, name)
    assert first == second
    assert b'"decision":"LONG"' in first[0] + first[1] + first[2] + first[3]


async def test_llm_engine_replayed_from_its_record_gives_byte_identical_decisions(
    bus: Bus, database_url: str, start_decision, fake_llm: FakeLlm
) -> None:
    far_stop = answer({**GOOD, "entry_price": float(HISTORY[-1].close), "stop_loss": 1})
    fake_llm.script(
        "trader1",
        answer(
            {
                **GOOD,
                "entry_price": float(HISTORY[-1].close),
                "stop_loss": float(HISTORY[-1].close) * 0.98,
                "take_profits": [{"price": float(HISTORY[-1].close) * 1.03, "fraction": 1}],
            }
        ),
    )
    fake_llm.script("trader2", Reply(status=500))
    fake_llm.script("trader3", Reply(content="{oops"))
    fake_llm.script("trader4", far_stop)
    live, replay_a, replay_b = unique_schema(), unique_schema(), unique_schema()
    try:
        recorded = await _run(bus, start_decision, live, llm=True, llm_base_url=fake_llm.url)
        calls_made = len(fake_llm.requests)
        for target in (replay_a, replay_b):
            await _copy_record(database_url, live, target)
        first = await _run(bus, start_decision, replay_a, llm=True, llm_mode="replay")
        second = await _run(bus, start_decision, replay_b, llm=True, llm_mode="replay")
    finally:
        for name in (live, replay_a, replay_b):
            await drop_schema(database_url, name)
    assert len(fake_llm.requests) == calls_made  # replay never called the model
    assert first == second == recorded
    joined = b"".join(recorded)
    assert b'"engine":"LLM"' in joined and b"llm unavailable: LLM_HTTP_500" in joined
    assert joined.count(b"VALIDATION_FAILED") == 2


async def _copy_record(database_url: str, source: str, target: str) -> None:
    """A backtest imports the record of a live run into its own (fresh) schema."""
    from robson_decision.main import MIGRATIONS
    from robson_kit import migrations

    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url, target)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f'INSERT INTO "{target}".model_calls SELECT * FROM "{source}".model_calls'
        )
    finally:
        await conn.close()
