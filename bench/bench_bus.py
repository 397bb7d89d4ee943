"""The bus: publish → durable pull consume → DB transaction (inbox + state change + outbox)
→ commit → ack → outbox relay publishes the answer. One consumer, embedded NATS + Postgres.

Uses the kit's sample service (libs/kit/tests/sampleapp): each SignalDetected increments a
row and emits one TradeDecision through the outbox.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from robson_contracts import SignalDetected, decode, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.embedded import Infrastructure
from robson_kit.testing import reset_streams, unique_schema

from bench.common import (
    Metric,
    at_least,
    at_most,
    embedded_infrastructure,
    info,
    median,
    percentile,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libs" / "kit" / "tests"))
from sampleapp.app import SampleSettings, build

T0 = datetime(2024, 5, 1, tzinfo=UTC)
THROUGHPUT_MESSAGES = 5000
PACED_RATE = 500
PACED_SECONDS = 10


def _signal(i: int) -> SignalDetected:
    return SignalDetected(
        occurred_at=T0, account_id="bench", signal_id=f"s{i}", strategy="bench", trader_id="t1",
        symbol="BTCUSDT", timeframe="5m", direction="LONG", strength="0.9", price="60000",
        candle_time=T0,
    )


async def _throughput(bus: Bus, infra: Infrastructure) -> list[Metric]:
    payloads = [(encode(m), headers_for(m)) for m in map(_signal, range(THROUGHPUT_MESSAGES))]
    subject = s.signal("bench", "BTCUSDT")
    for i in range(0, len(payloads), 500):
        await asyncio.gather(*(bus.publish_raw(subject, p, h) for p, h in payloads[i:i + 500]))
    service = build(SampleSettings(nats_url=infra.nats_url, database_url=infra.database_url,
                                   db_schema=unique_schema("bench"), log_level="WARNING"))
    started = time.perf_counter()
    await service.start()
    consumer = service.consumers[0]
    while consumer.processed < THROUGHPUT_MESSAGES:
        await asyncio.sleep(0.01)
    consumed = time.perf_counter() - started
    while (await service.relay.pending_count()) > 0:
        await asyncio.sleep(0.01)
    drained = time.perf_counter() - started
    await service.stop()
    return [
        at_least("bus.consume_throughput", THROUGHPUT_MESSAGES / consumed, "msgs/s", 2000,
                 f"{THROUGHPUT_MESSAGES} msgs backlog, inbox+state+outbox per msg, incl. start-up"),
        info("bus.consume_and_relay_throughput", THROUGHPUT_MESSAGES / drained, "msgs/s",
             "until every answer event was published by the outbox relay"),
    ]


async def _latency(bus: Bus, infra: Infrastructure) -> list[Metric]:
    service = build(SampleSettings(nats_url=infra.nats_url, database_url=infra.database_url,
                                   db_schema=unique_schema("bench"), log_level="WARNING"))
    await service.start()
    sent: dict[str, float] = {}
    answer_latency: list[float] = []
    done = asyncio.Event()
    total = PACED_RATE * PACED_SECONDS

    async def on_answer(msg) -> None:  # core NATS subscription sees the relay's publish
        decision = decode(msg.data)
        answer_latency.append((time.perf_counter() - sent[str(decision.correlation_id)]) * 1000)
        if len(answer_latency) == total:
            done.set()

    sub = await bus.nc.subscribe(s.ALL_DECISIONS, cb=on_answer)
    interval = 1 / PACED_RATE
    start = time.perf_counter()
    for i in range(total):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        message = _signal(100_000 + i)
        sent[str(message.correlation_id)] = time.perf_counter()
        await bus.publish(message)
    await asyncio.wait_for(done.wait(), timeout=180)
    await sub.unsubscribe()
    handle = [v * 1000 for v in _handle_times(service)]
    await service.stop()
    note = f"{PACED_RATE} msgs/s for {PACED_SECONDS}s; signal published → answer event published"
    metrics = [
        info("bus.latency_p50_at_500", median(answer_latency), "ms", note),
        at_most("bus.latency_p99_at_500", percentile(answer_latency, 99), "ms", 10, note),
    ]
    if handle:
        metrics.append(info("bus.handle_mean_at_500", sum(handle) / len(handle), "ms",
                            "consumer transaction per message (mean)"))
    return metrics


def _handle_times(service) -> list[float]:
    from robson_kit.metrics import HANDLE_SECONDS

    samples = HANDLE_SECONDS.labels(service.name, "sample_signals")
    total = samples._sum.get()
    count = sum(b.get() for b in samples._buckets)
    return [total / count] if count else []


async def run() -> list[Metric]:
    with embedded_infrastructure() as infra:
        bus = await Bus(infra.nats_url, name="bench").connect()
        await reset_streams(bus)
        results = await _throughput(bus, infra)
        await reset_streams(bus)
        results += await _latency(bus, infra)
        await bus.close()
        return results
