"""decision: rules-engine throughput in-process; signal → decision published end to end through
NATS + Postgres (embedded, in a temp dir) at a paced 100 signals/s, with the service in its own
process as deployed (60 candles of history and a market context consumed first, so every context
is a real one); and the signal consumer's throughput on a backlog."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from robson_contracts import (
    Candle,
    DecisionEngine,
    MarketContext,
    SignalDetected,
    decode,
    derive_id,
    encode,
)
from robson_contracts import subjects as s
from robson_decision.domain import rules
from robson_decision.domain.context import Bar, DecisionContext
from robson_decision.domain.decide import EngineInfo, Stamp, finalize
from robson_decision.domain.settings import TraderSettings
from robson_decision.handlers.context import bars_needed
from robson_kit.bus import Bus, headers_for
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams, unique_schema

from bench.common import (
    Metric,
    at_least,
    at_most,
    embedded_infrastructure,
    info,
    median,
    percentile,
    process_cpu_seconds,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULES_DECISIONS = 20_000
PACED_RATE = 100
PACED_SECONDS = 10
BACKLOG = 5000


def _bars(rng: random.Random, n: int = 60) -> tuple[Bar, ...]:
    out, close = [], Decimal("60000")
    for i in range(n):
        open_ = close
        close = (open_ * (1 + Decimal(rng.randint(-50, 50)) / 10000)).quantize(Decimal("0.01"))
        out.append(
            Bar(
                T0 - timedelta(minutes=5 * (n - 1 - i)),  # the last one is the signals' candle
                open_,
                max(open_, close) + 5,
                min(open_, close) - 5,
                close,
                Decimal("3"),
            )
        )
    return tuple(out)


def _signal(i: int, rng: random.Random, price: Decimal) -> SignalDetected:
    return SignalDetected(
        message_id=derive_id("bench-signal", i),
        occurred_at=T0,
        account_id="bench",
        signal_id=f"s{i}",
        strategy="bench",
        trader_id=f"t{i % 7}",
        symbol="BTCUSDT",
        timeframe="5m",
        direction=rng.choice(["LONG", "SHORT"]),
        strength=f"0.{rng.randint(40, 99)}",
        price=price,
        candle_time=T0,
    )


def _rules_throughput() -> list[Metric]:
    rng = random.Random(42)
    settings, engine = TraderSettings(), EngineInfo(DecisionEngine.RULES)
    history = _bars(rng)[-bars_needed(settings) :]  # the window the service loads for the rules
    contexts = []
    for i in range(1000):
        sig = _signal(i, rng, history[-1].close)
        contexts.append(
            (
                DecisionContext(
                    account_id="bench",
                    trader_id=sig.trader_id,
                    symbol="BTCUSDT",
                    timeframe="5m",
                    as_of=T0,
                    price=sig.price,
                    signal=sig,
                    bars=history,
                ),
                Stamp.for_signal(sig),
            )
        )
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        for i in range(RULES_DECISIONS):
            ctx, stamp = contexts[i % len(contexts)]
            answer = rules.decide(ctx, settings)
            assert answer is not None
            finalize(ctx, settings, answer.proposal, stamp, engine, answer.reason_code)
        rates.append(RULES_DECISIONS / (time.perf_counter() - started))
    return [
        at_least(
            "decision.rules_throughput",
            median(rates),
            "decisions/s",
            5000,
            "rules engine + validation + TradeDecision, ATR(14) over the 15-candle window the service loads, median of 3 runs",
        )
    ]


def _history(rng: random.Random) -> list[Candle | MarketContext]:
    bars = _bars(rng)
    candles: list[Candle | MarketContext] = [
        Candle(
            message_id=derive_id("bench-candle", b.open_time),
            occurred_at=b.open_time + timedelta(minutes=5),
            symbol="BTCUSDT",
            timeframe="5m",
            open_time=b.open_time,
            close_time=b.open_time + timedelta(minutes=5),
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            volume=b.volume,
        )
        for b in bars
    ]
    context = MarketContext(
        occurred_at=T0, symbol="BTCUSDT", funding_rate="0.0001", mark_price=bars[-1].close
    )
    return [*candles, context]


def _service(infra: Infrastructure, log: Path, schema: str) -> ServiceProcess:
    """decision as its own OS process, as deployed: the benchmark client must not share its
    event loop."""
    env = {
        "NATS_URL": infra.nats_url,
        "DATABASE_URL": infra.database_url,
        "ROBSON_DECISION_DB_SCHEMA": schema,
        "ROBSON_DECISION_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess("robson_decision", env, "ROBSON_DECISION_HTTP_PORT", log)


async def _acked(bus: Bus, stream: str, consumer: str) -> int:
    return (await bus.js.consumer_info(stream, consumer)).ack_floor.stream_seq


async def _wait_acked(bus: Bus, stream: str, consumer: str, seq: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while await _acked(bus, stream, consumer) < seq:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{consumer} did not reach {seq} in {timeout}s")
        await asyncio.sleep(0.01)


async def _paced(bus: Bus, price: Decimal, proc: ServiceProcess) -> list[Metric]:
    rng = random.Random(7)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    total = PACED_RATE * PACED_SECONDS
    done = asyncio.Event()

    async def on_decision(msg) -> None:
        decision = decode(msg.data)
        latencies.append((time.perf_counter() - sent[str(decision.correlation_id)]) * 1000)
        kinds[decision.decision.value] = kinds.get(decision.decision.value, 0) + 1
        if len(latencies) == total:
            done.set()

    sub = await bus.nc.subscribe(s.ALL_DECISIONS, cb=on_decision)
    cpu_before = process_cpu_seconds(proc.proc.pid)
    start = time.perf_counter()
    try:
        for i in range(total):
            delay = start + i / PACED_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = _signal(100_000 + i, rng, price)
            sent[str(message.correlation_id)] = time.perf_counter()
            await bus.publish(message)
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await sub.unsubscribe()
    cpu_ms = (process_cpu_seconds(proc.proc.pid) - cpu_before) * 1000 / total
    note = (
        f"{PACED_RATE} signals/s for {PACED_SECONDS}s, rules engine, 7 traders, ATR over stored "
        f"candles ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); signal published "
        "→ TradeDecision published by the outbox relay; service in its own process"
    )
    return [
        info("decision.e2e_latency_p50_at_100", median(latencies), "ms", note),
        at_most("decision.e2e_latency_p99_at_100", percentile(latencies, 99), "ms", 20, note),
        info(
            "decision.service_cpu_per_signal",
            cpu_ms,
            "ms",
            "CPU time (user + system) of the decision process per signal during the paced run: "
            "the cost that does not depend on how busy the machine is",
        ),
    ]


async def _backlog(
    bus: Bus, infra: Infrastructure, log: Path, schema: str, price: Decimal
) -> list[Metric]:
    """Signals published while decision is down, then drained by a restarted process (which
    rebuilds its memory of candles from the schema): how far it can keep up."""
    rng = random.Random(11)
    before = await _acked(bus, s.SIGNALS.name, "decision_signals")
    for i in range(0, BACKLOG, 500):
        batch = [_signal(200_000 + j, rng, price) for j in range(i, i + 500)]
        await asyncio.gather(
            *(bus.publish_raw(s.subject_for(m), encode(m), headers_for(m)) for m in batch)
        )
    proc = _service(infra, log, schema)
    await asyncio.to_thread(proc.start)
    try:
        started = time.perf_counter()
        await _wait_acked(bus, s.SIGNALS.name, "decision_signals", before + BACKLOG, 300)
        elapsed = time.perf_counter() - started
    finally:
        proc.stop()
    return [
        info(
            "decision.signal_backlog_throughput",
            BACKLOG / elapsed,
            "signals/s",
            f"backlog of {BACKLOG} signals drained by one service process (batched transactions)",
        )
    ]


async def _end_to_end(infra: Infrastructure) -> list[Metric]:
    bus = await Bus(infra.nats_url, name="bench").connect()
    await reset_streams(bus)
    log = Path(tempfile.gettempdir()) / f"robson-bench-decision-{os.getpid()}.log"
    history = _history(random.Random(42))
    for message in history:
        await bus.publish(message)
    price = history[-2].close  # type: ignore[union-attr]
    schema = unique_schema("bench_decision")
    proc = _service(infra, log, schema)
    await asyncio.to_thread(proc.start)
    try:
        await _wait_acked(bus, s.MARKET.name, "decision_candles", len(history) - 1, 60)
        await _wait_acked(bus, s.MARKET.name, "decision_market_context", len(history), 60)
        results = await _paced(bus, price, proc)
    finally:
        proc.stop()
    results += await _backlog(bus, infra, log, schema, price)
    await bus.close()
    return results


async def run() -> list[Metric]:
    results = _rules_throughput()
    with embedded_infrastructure("robson-bench-decision-") as infra:
        results += await _end_to_end(infra)
    return results
