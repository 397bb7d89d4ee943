"""decision: rules-engine throughput in-process, and signal → decision published end to end
through NATS + Postgres (embedded, in a temp dir) at a paced 100 signals/s."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_contracts import DecisionEngine, SignalDetected, decode, derive_id
from robson_contracts import subjects as s
from robson_decision.domain import rules
from robson_decision.domain.context import Bar, DecisionContext
from robson_decision.domain.decide import EngineInfo, Stamp, finalize
from robson_decision.domain.settings import TraderSettings
from robson_decision.handlers.context import bars_needed
from robson_decision.main import build_service
from robson_decision.settings import DecisionSettings
from robson_kit.bus import Bus
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

T0 = datetime(2024, 5, 1, tzinfo=UTC)
RULES_DECISIONS = 20_000
PACED_RATE = 100
PACED_SECONDS = 10


def _bars(rng: random.Random, n: int = 60) -> tuple[Bar, ...]:
    out, close = [], Decimal("60000")
    for i in range(n):
        open_ = close
        close = (open_ * (1 + Decimal(rng.randint(-50, 50)) / 10000)).quantize(Decimal("0.01"))
        out.append(
            Bar(
                T0 + timedelta(minutes=5 * i),
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
    history = _bars(rng)[-bars_needed(settings):]  # the window the service loads for the rules
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


async def _end_to_end(infra: Infrastructure) -> list[Metric]:
    bus = await Bus(infra.nats_url, name="bench").connect()
    await reset_streams(bus)
    service = build_service(
        DecisionSettings(
            nats_url=infra.nats_url,
            database_url=infra.database_url,
            db_schema=unique_schema("bench_decision"),
            log_level="WARNING",
        )
    )
    await service.start()
    rng = random.Random(7)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    total = PACED_RATE * PACED_SECONDS
    done = asyncio.Event()

    async def on_decision(msg) -> None:
        decision = decode(msg.data)
        latencies.append((time.perf_counter() - sent[str(decision.correlation_id)]) * 1000)
        if len(latencies) == total:
            done.set()

    sub = await bus.nc.subscribe(s.ALL_DECISIONS, cb=on_decision)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / PACED_RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        message = _signal(100_000 + i, rng, Decimal("60000"))
        sent[str(message.correlation_id)] = time.perf_counter()
        await bus.publish(message)
    await asyncio.wait_for(done.wait(), timeout=120)
    await sub.unsubscribe()
    await service.stop()
    await bus.close()
    note = (
        f"{PACED_RATE} signals/s for {PACED_SECONDS}s, rules engine; signal published → "
        "TradeDecision published by the outbox relay"
    )
    return [
        info("decision.e2e_latency_p50_at_100", median(latencies), "ms", note),
        at_most("decision.e2e_latency_p99_at_100", percentile(latencies, 99), "ms", 20, note),
    ]


async def run() -> list[Metric]:
    results = _rules_throughput()
    with embedded_infrastructure("robson-bench-decision-") as infra:
        results += await _end_to_end(infra)
    return results
