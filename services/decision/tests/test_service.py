"""The service on real NATS + Postgres: signals in, validated decisions out, exactly once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from robson_contracts import (
    DeadLetter,
    DecisionKind,
    ModificationKind,
    PositionModified,
    PositionOpened,
    TradeDecision,
    encode,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.testing import read_stream, wait_until

from .conftest import client
from .factories import FIVE_MIN, T0, bars, candle, signal


async def decisions(bus: Bus, account: str = "acc1") -> list[TradeDecision]:
    return await read_stream(bus, f"robson.decision.made.{account}.>")


async def count(bus: Bus, n: int, account: str = "acc1") -> list[TradeDecision] | None:
    found = await decisions(bus, account)
    return found if len(found) >= n else None


async def publish_history(bus: Bus, n: int = 30) -> list:
    history = bars(n, end=T0)
    for bar in history:
        await bus.publish(candle(bar))
    return list(history)


async def test_signal_in_gives_validated_long_decision_out(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    history = await publish_history(bus)
    await asyncio.sleep(0.5)  # let the candles land before the signal (the context reads them)
    sig = signal("LONG", "0.8", price=str(history[-1].close))
    await bus.publish(sig)
    (d,) = await wait_until(lambda: count(bus, 1), message="one decision")
    assert d.decision is DecisionKind.LONG
    assert d.stop_loss < d.entry_price < d.take_profits[0].price
    assert d.causation_id == sig.message_id and d.occurred_at == sig.occurred_at
    assert d.engine.value == "RULES" and d.signal_id == "sig-1"
    async with client(service) as http:
        found = (await http.get("/decisions", params={"trader_id": "trader1"})).json()
        assert [(x["kind"], x["status"], x["engine"]) for x in found] == [
            ("LONG", "PUBLISHED", "RULES")
        ]
        detail = (await http.get(f"/decisions/{d.decision_id}")).json()
        assert "ATR(14)" in detail["reasoning"]
        assert len(detail["context"]["candles"]) == 15  # ATR(14) window for the rules
        assert detail["decision"]["decision_id"] == d.decision_id


async def test_redelivered_signal_produces_no_second_decision(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    sig = signal("LONG", "0.9")
    await bus.publish(sig)
    await wait_until(lambda: count(bus, 1), message="first decision")
    # Past JetStream's duplicate window: same message, another Nats-Msg-Id → the inbox drops it.
    await bus.publish_raw(
        s.subject_for(sig), encode(sig), {**headers_for(sig), "Nats-Msg-Id": "again"}
    )
    # Same signal_id under a new message id (a re-sent webhook): the decision id dedupes it.
    await bus.publish(sig.model_copy(update={"message_id": sig.message_id.__class__(int=7)}))
    await wait_until(lambda: _acked(service, 3), message="all three deliveries handled")
    await asyncio.sleep(0.3)
    assert len(await decisions(bus)) == 1


async def _acked(service, n: int) -> bool:
    info = await service.bus.js.consumer_info(s.SIGNALS.name, "decision_signals")
    return info.ack_floor.stream_seq >= n


async def test_weak_signal_is_published_as_no_trade_with_reason(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    await bus.publish(signal("LONG", "0.3"))
    (d,) = await wait_until(lambda: count(bus, 1), message="decision")
    assert d.decision is DecisionKind.NO_TRADE
    async with client(service) as http:
        (row,) = (await http.get("/decisions", params={"reason_code": "WEAK_SIGNAL"})).json()
        assert row["decision_id"] == d.decision_id


async def test_invalid_signal_payload_is_dead_lettered(
    bus: Bus, schema: str, start_decision
) -> None:
    await start_decision(schema)
    await bus.publish_raw(
        s.signal("acc1", "BTCUSDT"), b'{"message_type": "SignalDetected"}', {"Nats-Msg-Id": "bad-1"}
    )
    letters = await wait_until(lambda: _letters(bus), message="dead letter")
    assert letters[0].reason_code == "INVALID_MESSAGE"


async def _letters(bus: Bus) -> list[DeadLetter] | None:
    return await read_stream(bus, s.ALL_DEAD_LETTERS) or None


async def test_open_position_reviewed_on_candle_close_moves_stop_to_breakeven_once(
    bus: Bus, schema: str, start_decision
) -> None:
    service = await start_decision(schema)
    opened = PositionOpened(
        occurred_at=T0,
        account_id="acc1",
        position_id="pos-9",
        trader_id="trader1",
        symbol="BTCUSDT",
        side="LONG",
        quantity="1",
        entry_price="100",
        stop_loss="98",
        initial_risk="2",
        fees="0",
    )
    await bus.publish(opened)
    await wait_until(
        lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
        message="position known",
    )
    base = bars(1, start=Decimal("100"), end=T0 + FIVE_MIN)[0]
    up = base.__class__(
        base.open_time,
        Decimal("100"),
        Decimal("103"),
        Decimal("100"),
        Decimal("102.6"),
        Decimal("5"),
    )
    later = up.__class__(
        up.open_time + FIVE_MIN,
        Decimal("102.6"),
        Decimal("103"),
        Decimal("102"),
        Decimal("102.8"),
        Decimal("5"),
    )
    await bus.publish(candle(up))
    await bus.publish(candle(later))
    (d,) = await wait_until(lambda: count(bus, 1), message="review decision")
    assert d.position_id == "pos-9" and d.decision is DecisionKind.WATCH
    assert d.modifications[0].kind is ModificationKind.MOVE_SL
    assert d.modifications[0].new_value == Decimal("100")
    await wait_until(
        lambda: _consumed(service, "decision_candles", s.MARKET.name, 2),
        message="second candle handled",
    )
    assert len(await decisions(bus)) == 1  # the same suggestion is not repeated
    await bus.publish(
        PositionModified(
            occurred_at=later.open_time + FIVE_MIN,
            account_id="acc1",
            position_id="pos-9",
            trader_id="trader1",
            symbol="BTCUSDT",
            side="LONG",
            triggered_by="RULE_ENGINE",
            modification=d.modifications[0],
            stop_loss="100",
        )
    )
    await wait_until(
        lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 2),
        message="modification seen",
    )
    async with client(service) as http:
        assert (await http.get("/decisions", params={"position_id": "pos-9"})).json()[0][
            "question"
        ] == "management"


async def _consumed(service, consumer: str, stream: str, n: int) -> bool:
    info = await service.bus.js.consumer_info(stream, consumer)
    return info.num_ack_pending == 0 and info.delivered.consumer_seq >= n


async def test_position_held_past_max_holding_candles_beyond_the_stop_window_is_closed_by_time(
    bus: Bus, schema: str, start_decision
) -> None:
    """The review counts the candles since the entry in the bars it reads: with a time exit
    longer than the ATR/swing window (15 bars by default) it must still read enough of them."""
    service = await start_decision(schema)
    async with client(service) as http:
        put = await http.put("/traders/trader1/settings", json={
            "max_holding_candles": 20, "trail_at_r": None, "breakeven_at_r": None})
        assert put.status_code == 200, put.text
    opened = PositionOpened(
        occurred_at=T0, account_id="acc1", position_id="pos-t", trader_id="trader1",
        symbol="BTCUSDT", side="LONG", quantity="1", entry_price="100", stop_loss="98",
        initial_risk="2", fees="0",
    )
    await bus.publish(opened)
    await wait_until(lambda: _consumed(service, "decision_positions", s.POSITIONS.name, 1),
                     message="position known")
    held = bars(25, end=T0 + FIVE_MIN * 25)  # opening at T0 + 5 min, after the entry
    for bar in held[:19]:
        await bus.publish(candle(bar))
    await wait_until(lambda: _consumed(service, "decision_candles", s.MARKET.name, 19),
                     message="19 candles handled")
    assert await decisions(bus) == []  # 19 candles in the trade: not yet
    await bus.publish(candle(held[19]))
    (d,) = await wait_until(lambda: count(bus, 1), message="time exit")
    assert d.position_id == "pos-t" and d.decision is DecisionKind.CLOSE
    assert "held 20 candles" in d.reasoning
