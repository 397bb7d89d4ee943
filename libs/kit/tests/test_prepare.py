"""``ConsumerSpec.prepare``: a slow outside call made before the batch transaction opens, its
result recorded durably on its own, so a rolled-back batch does not pay for it again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from robson_contracts import SignalDetected
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.consumer import ConsumerSpec
from robson_kit.errors import PermanentError
from robson_kit.service import Service
from robson_kit.testing import open_batch_transactions, read_stream, wait_until
from robson_kit.uow import UnitOfWork
from sampleapp.app import COUNT_SIGNAL, SampleSettings, times_seen

from .test_messaging import make_signal

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"


class PaidCall:
    """A prepare that 'pays' an outside call once per signal and records it in its own short
    transaction; a handler that reads the record and fails twice for one signal."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.database_url = database_url
        self.schema = schema
        self.service: Service | None = None
        self.paid: list[str] = []
        self.prepared: list[str] = []
        self.handled: list[str] = []
        self.open_in_prepare: list[int] = []
        self.open_in_handler: list[int] = []
        self.failures_left = 2
        """The batch and its split replay both fail: the message is redelivered."""

    async def prepare(self, signal: SignalDetected) -> None:
        self.prepared.append(signal.signal_id)
        if signal.signal_id == "bad":
            raise PermanentError("UNPREPARABLE", "cannot be prepared")
        self.open_in_prepare.append(await open_batch_transactions(self.database_url, self.schema))
        assert self.service is not None
        async with self.service.uow() as uow:
            if await times_seen(uow, f"paid-{signal.signal_id}"):
                return  # recorded before: idempotent, nothing paid twice
            self.paid.append(signal.signal_id)
            await uow.execute(COUNT_SIGNAL, {"sid": f"paid-{signal.signal_id}"})

    async def handle(self, signal: SignalDetected, uow: UnitOfWork) -> None:
        self.open_in_handler.append(await open_batch_transactions(self.database_url, self.schema))
        assert await times_seen(uow, f"paid-{signal.signal_id}") == 1  # prepare's record is there
        await uow.execute(COUNT_SIGNAL, {"sid": signal.signal_id})
        if signal.signal_id == "flaky" and self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("the batch is rolled back after the call was paid")
        self.handled.append(signal.signal_id)


async def test_prepare_runs_before_and_outside_the_batch_transaction_and_survives_its_rollback(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    calls = PaidCall(database_url, schema)
    spec = ConsumerSpec("prepared_signals", s.SIGNALS, (s.ALL_SIGNALS,), calls.handle,
                        accepts=(SignalDetected,), prepare=calls.prepare)
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, consumers=[spec])
    calls.service = service
    ids = ["a", "flaky", "bad", "b"]
    for signal_id in ids:
        await bus.publish(make_signal(signal_id))
    await service.start()
    try:
        async def settled() -> bool:
            return service.consumers[0].processed >= 3 and bool(
                await read_stream(bus, s.ALL_DEAD_LETTERS))

        await wait_until(settled, message="three handled, one dead-lettered")
        async with service.uow() as uow:
            handled = {i: await times_seen(uow, i) for i in ids}
    finally:
        await service.stop()
    letters = await read_stream(bus, s.ALL_DEAD_LETTERS)
    assert [letter.reason_code for letter in letters] == ["UNPREPARABLE"]
    assert set(calls.handled) == {"a", "b", "flaky"}  # "a" again when the batch was split
    assert handled == {"a": 1, "flaky": 1, "bad": 0, "b": 1}  # the rolled-back attempt left nothing
    assert calls.prepared.count("flaky") >= 2  # prepared again on the redelivery...
    assert sorted(calls.paid) == ["a", "b", "flaky"]  # ...but paid once
    assert calls.open_in_prepare and set(calls.open_in_prepare) == {0}
    assert min(calls.open_in_handler) >= 1  # the control: the probe sees a batch transaction


async def test_a_batch_slower_than_ack_wait_is_kept_in_progress_so_it_is_neither_redelivered_nor_prepared_twice(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """A prepare waiting 3.5 s (a slow model) under a 1 s ``ack_wait``: without progress
    reports the server hands the message out again every second while it is still being
    prepared (each copy prepared again, its delivery count climbing towards the limit)."""
    prepared: list[str] = []
    handled: list[str] = []

    async def slow_prepare(signal: SignalDetected) -> None:
        prepared.append(signal.signal_id)
        if len(prepared) == 1:
            await asyncio.sleep(3.5)

    async def handle(signal: SignalDetected, uow: UnitOfWork) -> None:
        handled.append(signal.signal_id)
        await uow.execute(COUNT_SIGNAL, {"sid": signal.signal_id})

    spec = ConsumerSpec("slowly_prepared", s.SIGNALS, (s.ALL_SIGNALS,), handle,
                        accepts=(SignalDetected,), prepare=slow_prepare, ack_wait_seconds=1.0)
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, consumers=[spec])
    await bus.publish(make_signal("slow"))
    await service.start()
    try:
        await wait_until(lambda: service.consumers[0].processed, message="the slow one handled")
        await asyncio.sleep(2.5)  # two more ack_waits: a copy handed out meanwhile comes now
        duplicates = service.consumers[0].processed
    finally:
        await service.stop()
    assert prepared == ["slow"] and handled == ["slow"] and duplicates == 1


@pytest.mark.parametrize(("concurrency", "together"), [(1, 1), (2, 2)])
async def test_a_batchs_prepares_run_together_up_to_the_specs_bound_starting_in_its_order(
    bus: Bus, nats_url: str, database_url: str, schema: str, concurrency: int, together: int
) -> None:
    """Four slow outside calls waiting in one batch: one after another by default; with
    ``prepare_concurrency=2``, two at a time (a burst of signals at a candle's close waits for
    one model call's time per two, not per one); each message handled once either way."""
    started: list[str] = []
    handled: list[str] = []
    running, most = [0], [0]

    async def slow_prepare(signal: SignalDetected) -> None:
        started.append(signal.signal_id)
        running[0] += 1
        most[0] = max(most[0], running[0])
        try:
            await asyncio.sleep(0.3)
        finally:
            running[0] -= 1

    async def handle(signal: SignalDetected, uow: UnitOfWork) -> None:
        handled.append(signal.signal_id)
        await uow.execute(COUNT_SIGNAL, {"sid": signal.signal_id})

    spec = ConsumerSpec("prepared_together", s.SIGNALS, (s.ALL_SIGNALS,), handle,
                        accepts=(SignalDetected,), prepare=slow_prepare,
                        prepare_concurrency=concurrency)
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema),
                      MIGRATIONS, consumers=[spec])
    ids = ["p1", "p2", "p3", "p4"]
    for signal_id in ids:  # waiting before the consumer starts: one fetched batch
        await bus.publish(make_signal(signal_id))
    await service.start()
    try:
        await wait_until(lambda: service.consumers[0].processed >= 4, message="all four handled")
    finally:
        await service.stop()
    assert started == ids and sorted(handled) == ids
    assert most[0] == together
