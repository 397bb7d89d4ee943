"""Lockstep's parts: the activity tracker (when close times may stream unsettled) and the
quiescence wait driven by the consumers' progress reports, on the real NATS."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from robson_contracts import subjects as s
from robson_kit import progress
from robson_kit.testing import reset_streams, wait_until
from robson_signal.adapters.activity import Activity
from robson_signal.adapters.jetstream_state import JetStreamState
from robson_signal.adapters.quiescence import Quiescence

D = Decimal


def _accepted(order_id: str, kind: str = "STOP_MARKET", side: str = "SELL", price: str | None = None,
              stop: str | None = "99", symbol: str = "BTCUSDT") -> dict:  # type: ignore[type-arg]
    return {"order_id": order_id, "order": {
        "order_id": order_id, "symbol": symbol, "side": side, "type": kind, "quantity": "1",
        "price": price, "stop_price": stop}}


def test_activity_tracks_resting_orders_and_open_positions() -> None:
    activity = Activity(bus=None, known=True)  # type: ignore[arg-type]
    activity.on_event("OrderAccepted", _accepted("o1"))
    activity.on_event("OrderReplaced", {"order_id": "o1", "order": _accepted("o2", stop="98")["order"]})
    assert list(activity.orders) == ["o2"] and activity.orders["o2"].stop_price == D("98")  # type: ignore[union-attr]
    activity.on_event("PositionOpened", {"position_id": "p1", "account_id": "a", "symbol": "BTCUSDT"})
    activity.on_event("OrderFilled", {"order_id": "o2"})
    assert activity.orders == {} and activity.positions == {"p1": ("a", "BTCUSDT")}
    activity.on_event("PositionClosed", {"position_id": "p1"})
    assert activity.positions == {}
    activity.on_event("PositionOpened", {"position_id": "p2"})
    activity.on_event("PositionEntryFailed", {"position_id": "p2"})
    assert activity.positions == {}
    activity.on_event("OrderAccepted", {"order_id": "o3", "order": {"type": "nonsense"}})
    assert activity.orders == {"o3": None}  # unreadable: kept, and it may always act


class Watches:
    """The gate's answer per account, in memory (the port ``GateWatch`` implements over HTTP)."""

    def __init__(self, off: dict[str, bool]) -> None:
        self.off_by_account, self.asked, self.forgotten = off, [], []  # type: ignore[var-annotated]

    async def off(self, account_id: str) -> bool:
        self.asked.append(account_id)
        return self.off_by_account.get(account_id, False)

    def forget(self, account_id: str) -> None:
        self.forgotten.append(account_id)


async def test_activity_leaves_ticks_out_only_when_no_order_can_act_and_holders_watches_are_off() -> None:
    watches = Watches({"calm": True, "watched": False})
    activity = Activity(bus=None, known=True, watch=watches)  # type: ignore[arg-type]
    activity.on_event("PositionOpened", {"position_id": "p1", "account_id": "calm", "symbol": "BTCUSDT"})
    activity.on_event("OrderAccepted", _accepted("stop", stop="99"))
    activity.on_event("OrderAccepted", _accepted("tp", kind="LIMIT", price="105", stop=None))
    assert watches.forgotten == ["calm"]  # a new position: its account's policy is asked again
    inside = {"BTCUSDT": (D("99.5"), D("104"))}
    assert await activity.tickless(inside)
    assert not await activity.tickless({"BTCUSDT": (D("98"), D("104"))})   # the stop is in reach
    assert not await activity.tickless({"BTCUSDT": (D("100"), D("105"))})  # the take-profit too
    assert not await activity.tickless(None)  # a symbol without a last price yet
    assert await activity.tickless({"ETHUSDT": (D("1"), D("9999"))})  # nothing of ETH rests
    activity.on_event("PositionOpened", {"position_id": "p2", "account_id": "watched", "symbol": "BTCUSDT"})
    assert not await activity.tickless(inside)  # its drawdown watch follows ticks
    activity.on_event("PositionClosed", {"position_id": "p2"})
    assert await activity.tickless(inside)
    activity.on_event("OrderAccepted", {"order_id": "odd", "order": {}})
    assert not await activity.tickless(inside)  # an order it cannot read may act
    activity.on_event("OrderCanceled", {"order_id": "odd"})
    activity.known = False
    assert not await activity.tickless(inside)  # a tracker that came late knows nothing
    assert not await Activity(bus=None, known=True).tickless(inside)  # type: ignore[arg-type]  # no gate


async def test_activity_is_idle_only_when_nothing_rests_and_only_market_data_went_by(bus) -> None:  # type: ignore[no-untyped-def]
    await reset_streams(bus)
    activity = Activity(bus)
    await activity.start()
    try:
        assert await activity.idle()
        await bus.nc.publish(s.tick("BTCUSDT"), b"{}")  # market data: not watched
        assert await activity.idle()
        await bus.nc.publish("robson.order.evt.acc.BTCUSDT",
                             b'{"message_type": "OrderAccepted", "order_id": "o1"}')
        await wait_until(lambda: activity.orders, timeout=5, interval=0.01,
                         message="the tracker to see the order")
        assert not await activity.idle(settled=False)  # streaming: seen, kept for later
        assert not await activity.idle()  # settled: seen, and an order rests
        await bus.nc.publish("robson.order.evt.acc.BTCUSDT",
                             b'{"message_type": "OrderCanceled", "order_id": "o1"}')
        # nats-py writes a PING ahead of its own still-buffered publications, so idle()'s flush
        # does not cover what this very connection just published (the services' messages come
        # from other connections and are at the server already): wait for the delivery here.
        await wait_until(lambda: not activity.orders, timeout=5, interval=0.01,
                         message="the tracker to see the cancel")
        assert not await activity.idle()  # nothing rests, but the cancel itself went by
        assert await activity.idle()  # nothing since, nothing rests
        activity.known = False
        assert not await activity.idle()  # a tracker that came late never says idle
    finally:
        await activity.stop()


@pytest.mark.parametrize("reports", [True, False])
async def test_quiescence_waits_for_a_durable_consumer_to_ack(bus, reports: bool,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    monkeypatch.setenv("ROBSON_PROGRESS_REPORTS", "true" if reports else "false")
    await reset_streams(bus)
    name = f"lockstep_{uuid.uuid4().hex[:6]}"
    await bus.js.add_consumer(s.MARKET.name, ConsumerConfig(
        durable_name=name, ack_policy=AckPolicy.EXPLICIT, filter_subject=s.ALL_TICKS))
    sub = await bus.js.pull_subscribe_bind(name, stream=s.MARKET.name)
    reporter = progress.Reporter(bus.nc, "test", name, s.MARKET.name)
    quiet = Quiescence(bus, window=0.01, fallback=2.0)
    try:
        await quiet.wait()  # nothing published: quiet at once
        for i in range(3):
            await bus.js.publish(s.tick("BTCUSDT"), f"{i}".encode())
        waiting = asyncio.create_task(quiet.wait())
        await asyncio.sleep(0.1)
        assert not waiting.done()  # three messages pending
        msgs = await sub.fetch(3, timeout=2)
        assert len(msgs) == 3
        await asyncio.sleep(0.1)
        assert not waiting.done()  # delivered, not acknowledged
        for msg in msgs:
            await msg.ack()
        await reporter.report(msgs)
        await asyncio.wait_for(waiting, 5)
        assert quiet.waits == 2
    finally:
        await quiet.close()
        await sub.unsubscribe()


class _LaggingCounts(JetStreamState):
    """JetStream as it answers in the instant after acknowledging a publish: the message is on
    the stream, but its consumers' ``num_pending`` has not counted it yet (the server counts it
    on another goroutine, after the PubAck)."""

    async def consumers_of(self, stream: str) -> list[dict]:  # type: ignore[type-arg]
        consumers = await super().consumers_of(stream)
        for c in consumers:
            c["num_pending"] = 0
        return consumers


async def test_quiescence_finds_a_consumer_busy_whose_pending_count_lags_the_stream(bus) -> None:  # type: ignore[no-untyped-def]
    await reset_streams(bus)
    ticks, candles = f"ticks_{uuid.uuid4().hex[:6]}", f"candles_{uuid.uuid4().hex[:6]}"
    for name, subject in ((ticks, s.ALL_TICKS), (candles, s.ALL_CANDLES)):
        await bus.js.add_consumer(s.MARKET.name, ConsumerConfig(
            durable_name=name, ack_policy=AckPolicy.EXPLICIT, filter_subject=subject))
    sub = await bus.js.pull_subscribe_bind(ticks, stream=s.MARKET.name)
    quiet = Quiescence(bus, state=_LaggingCounts(bus))
    try:
        assert (await quiet.reading())[0]
        await bus.js.publish(s.candle("BTCUSDT", "5m"), b"c")
        await bus.js.publish(s.tick("BTCUSDT"), b"t")
        ok, busy = await quiet.reading()
        # both consumers look drained by their counts; their input is on the stream
        assert not ok and set(busy) == {(s.MARKET.name, ticks), (s.MARKET.name, candles)}
        candle_sub = await bus.js.pull_subscribe_bind(candles, stream=s.MARKET.name)
        for msg in await candle_sub.fetch(1, timeout=2):
            await msg.ack()
        await wait_until(lambda: _acked(bus, candles), timeout=5)
        ok, busy = await quiet.reading()
        assert not ok and set(busy) == {(s.MARKET.name, ticks)}  # seen only on the stream
        assert quiet.lagging >= 1
        for msg in await sub.fetch(1, timeout=2):
            await msg.ack()
        await wait_until(lambda: _acked(bus, ticks), timeout=5)
        assert (await quiet.reading())[0]
        lookups = quiet.lagging
        assert (await quiet.reading())[0] and quiet.lagging == lookups
    finally:
        await quiet.close()
        await sub.unsubscribe()


async def _acked(bus, durable: str) -> bool:  # type: ignore[no-untyped-def]
    info = await bus.js.consumer_info(s.MARKET.name, durable)
    return info.num_ack_pending == 0
