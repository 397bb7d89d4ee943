"""The bus: publish → durable pull consume → DB transaction (inbox + state change + outbox)
→ commit → ack → outbox relay publishes the answer. One consumer, embedded NATS + Postgres.

Uses the kit's sample service (libs/kit/tests/sampleapp): each SignalDetected increments a
row and emits one TradeDecision through the outbox.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from robson_contracts import SignalDetected, decode, encode
from robson_contracts import subjects as s
from robson_kit import nats_headers
from robson_kit.bus import Bus, headers_for
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams, unique_schema

from bench import hop_trace
from bench.common import (
    Metric,
    at_least,
    at_most,
    embedded_infrastructure,
    info,
    infra_cpu_seconds,
    median,
    percentile,
    process_cpu_seconds,
)

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 5, 1, tzinfo=UTC)
THROUGHPUT_MESSAGES = 5000
PACED_RATE = 500
PACED_SECONDS = 10
LOW_RATE, LOW_SECONDS = 20, 10
"""Messages one at a time, far apart: the per-transaction round trips are the cost."""


def _signal(i: int) -> SignalDetected:
    return SignalDetected(
        occurred_at=T0, account_id="bench", signal_id=f"s{i}", strategy="bench", trader_id="t1",
        symbol="BTCUSDT", timeframe="5m", direction="LONG", strength="0.9", price="60000",
        candle_time=T0,
    )


def _service_process(infra: Infrastructure, log: Path, trace: Path | None = None) -> ServiceProcess:
    """The sample service as its own OS process, as services run in production: the benchmark
    client (publisher, answer subscriber) must not share its event loop. ``trace``: where it
    writes its hops' timelines (``hop_trace``)."""
    tests_dir = ROOT / "libs" / "kit" / "tests"
    paths = [str(tests_dir), os.environ.get("PYTHONPATH", "")]
    env = {
        "NATS_URL": infra.nats_url,
        "DATABASE_URL": infra.database_url,
        "ROBSON_SAMPLE_DB_SCHEMA": unique_schema("bench"),
        "ROBSON_SAMPLE_LOG_LEVEL": "WARNING",
    }
    if trace is not None:
        paths.insert(0, str(hop_trace.site_dir(ROOT, trace.parent / "site")))
        env["BENCH_HOP_TRACE"] = str(trace)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return ServiceProcess("sampleapp", env, "ROBSON_SAMPLE_HTTP_PORT", log)


async def _acked(bus: Bus) -> int:
    info_ = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info_.ack_floor.stream_seq


async def _answers(bus: Bus) -> int:
    return (await bus.js.stream_info(s.DECISIONS.name)).state.messages


async def _throughput(bus: Bus, infra: Infrastructure, log: Path) -> list[Metric]:
    payloads = [(encode(m), headers_for(m)) for m in map(_signal, range(THROUGHPUT_MESSAGES))]
    subject = s.signal("bench", "BTCUSDT")
    for i in range(0, len(payloads), 500):
        await asyncio.gather(*(bus.publish_raw(subject, p, h) for p, h in payloads[i:i + 500]))
    proc = _service_process(infra, log)
    await asyncio.to_thread(proc.start)
    try:
        started, done_before = time.perf_counter(), await _acked(bus)
        cpu_before = process_cpu_seconds(proc.proc.pid)
        while await _acked(bus) < THROUGHPUT_MESSAGES:
            await asyncio.sleep(0.01)
        consumed = time.perf_counter() - started
        while await _answers(bus) < THROUGHPUT_MESSAGES:
            await asyncio.sleep(0.01)
        drained = time.perf_counter() - started
        cpu = process_cpu_seconds(proc.proc.pid) - cpu_before
    finally:
        proc.stop()
    measured = THROUGHPUT_MESSAGES - done_before
    return [
        at_least("bus.consume_throughput", measured / consumed, "msgs/s", 2000,
                 f"backlog of {THROUGHPUT_MESSAGES}; inbox + state change + outbox, ack after commit"),
        info("bus.consume_and_relay_throughput", measured / drained, "msgs/s",
             "until every answer event was published by the outbox relay"),
        info("bus.service_cpu_per_message", cpu * 1000 / measured, "ms",
             "the service process's CPU time per message (robust to a busy machine)"),
    ]


async def _latency(bus: Bus, infra: Infrastructure, log: Path, rate: int = PACED_RATE,
                   seconds: int = PACED_SECONDS, trace: Path | None = None) -> list[Metric]:
    proc = _service_process(infra, log, trace)
    await asyncio.to_thread(proc.start)
    sent: dict[str, float] = {}
    sent_ids: dict[str, float] = {}
    answer_latency: list[float] = []
    done = asyncio.Event()
    total = rate * seconds

    async def on_answer(msg) -> None:  # core NATS subscription sees the relay's publish
        decision = decode(msg.data)
        answer_latency.append((time.perf_counter() - sent[str(decision.correlation_id)]) * 1000)
        if len(answer_latency) == total:
            done.set()

    sub = await bus.nc.subscribe(s.ALL_DECISIONS, cb=on_answer)
    interval = 1 / rate
    cpu_before = process_cpu_seconds(proc.proc.pid)
    infra_before = infra_cpu_seconds(infra)
    start = time.perf_counter()
    try:
        for i in range(total):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = _signal(100_000 + i)
            sent[str(message.correlation_id)] = sent_ids[str(message.message_id)] = \
                time.perf_counter()
            await bus.publish(message)
        await asyncio.wait_for(done.wait(), timeout=180)
        cpu = process_cpu_seconds(proc.proc.pid) - cpu_before
        infra_cpu = infra_cpu_seconds(infra) - infra_before
    finally:
        await sub.unsubscribe()
        proc.stop()
    if trace is not None:
        _print_trace(trace, sent_ids)
    note = f"{rate} msgs/s for {seconds}s; signal published → answer event published"
    metrics = [
        info(f"bus.latency_p50_at_{rate}", median(answer_latency), "ms", note),
        info(f"bus.service_cpu_per_message_at_{rate}", cpu * 1000 / total, "ms",
             "the service process's CPU time per message when messages arrive one by one; "
             f"NATS + Postgres (publisher's included) {infra_cpu * 1000 / total:.2f} ms"),
    ]
    if rate == PACED_RATE:
        metrics.insert(1, at_most(f"bus.latency_p99_at_{rate}", percentile(answer_latency, 99),
                                  "ms", 10, note))
    return metrics


def _print_trace(trace: Path, sent: dict[str, float]) -> None:
    if trace.exists():
        print("\n".join(hop_trace.summary(trace, sent)))
    else:
        print(f"hop trace: the service wrote nothing to {trace}")


async def run() -> list[Metric]:
    with embedded_infrastructure() as infra:
        bus = await Bus(infra.nats_url, name="bench").connect()
        await reset_streams(bus)
        log = Path(tempfile.gettempdir()) / "robson-bench-bus.log"
        results = await _throughput(bus, infra, log)
        await reset_streams(bus)
        results += await _latency(bus, infra, log)
        await reset_streams(bus)
        trace = Path(tempfile.mkdtemp(prefix="robson-bench-hops-")) / "hops.jsonl" \
            if os.environ.get("BENCH_BUS_TRACE") == "1" else None
        results += await _latency(bus, infra, log, rate=LOW_RATE, seconds=LOW_SECONDS, trace=trace)
        await bus.close()
        return results + _header_parse()


def _header_parse() -> list[Metric]:
    """What parsing one delivered message's headers costs: the kit's parse against nats-py's
    own (``robson_kit.nats_headers``), medians of 5 × 20,000 parses of a Robson header block."""
    raw = (f"Nats-Msg-Id: {uuid.uuid4()}\r\nRobson-Type: OrderAccepted\r\n"
           f"Robson-Schema-Version: 1\r\nRobson-Correlation-Id: {uuid.uuid4()}\r\n\r\n").encode()
    assert nats_headers.ORIGINAL is not None

    def per_parse(parse: Callable[[bytes], object]) -> float:
        return median(timeit.repeat(lambda: parse(raw), number=20_000, repeat=5)) / 20_000 * 1e6

    theirs = per_parse(nats_headers.ORIGINAL.__func__)
    ours = per_parse(nats_headers.parse_header_lines)
    return [info("bus.header_parse", ours, "µs",
                 f"one delivered message's four headers; nats-py's own parse {theirs:.2f} µs "
                 f"in the same run (×{theirs / ours:.2f})")]
