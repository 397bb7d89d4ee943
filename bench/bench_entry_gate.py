"""entry_gate: gate evaluation with every rule for an account with 1,000 open positions
(in-process), POST /check through the ASGI app (real Postgres + NATS, embedded), and the
consumer: TradeDecision → GateDecision through NATS + Postgres with the service in its own
process, 100 accounts holding 1,000 open positions and a steady tick stream flowing."""

from __future__ import annotations

import gc
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from robson_contracts import PositionOpened, PositionSide, TradeDecision
from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.policy import AccountPolicy, EffectivePolicy
from robson_entry_gate.domain.projection import on_opened, roll
from robson_entry_gate.domain.state import AccountState, MarketSnapshot

from bench.common import (
    Metric,
    at_most,
    embedded_infrastructure,
    info,
    median,
    percentile,
    process_cpu_seconds,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SYMBOLS = [f"SYM{i}USDT" for i in range(20)]


def _account(rng: random.Random) -> tuple[AccountState, dict, EffectivePolicy]:
    account = AccountPolicy.model_validate({
        "positions": {"max_per_trader": 5000, "max_per_account": 5000},
        # a consistent policy (unit ≥ risk per trade, budget = monthly limit) roomy enough for
        # 1,000 open positions
        "sizing": {"risk_per_trade": "0.0001"}, "monthly_loss": {"limit": "0.5"},
        "concurrency": {"cap": None, "budget": "0.5", "unit": "0.0001"},
        "frequency": {"per_minute": 1000, "per_hour": 5000,
                                                    "per_day": 5000},
    })
    policy = EffectivePolicy(account=account)
    market = {s: MarketSnapshot(symbol=s, last_price=Decimal(100 + i), price_at=T0,
                                funding_rate=Decimal("0.0001"), context_at=T0)
              for i, s in enumerate(SYMBOLS)}
    state = AccountState(account_id="bench", equity=Decimal("10000000"),
                         free_quote=Decimal("10000000"), peak_equity=Decimal("10000000"))
    roll(state, market, account, T0)
    for i in range(1000):
        on_opened(state, PositionOpened(
            occurred_at=T0, account_id="bench", position_id=f"p{i}", trader_id=f"t{i % 50}",
            symbol=rng.choice(SYMBOLS), side=PositionSide.LONG, quantity="1",
            entry_price=str(rng.randint(90, 110)), stop_loss="80", initial_risk="10", fees="0"))
    return state, market, policy


def _decision(n: int) -> TradeDecision:
    return TradeDecision(occurred_at=T0 + timedelta(seconds=1), account_id="bench",
                         decision_id=f"b{n}", trader_id="tx", symbol=SYMBOLS[n % 20],
                         decision="LONG", confidence="0.8", entry_price="100", stop_loss="95",
                         quantity="3")


def _bench_evaluate() -> list[Metric]:
    state, market, policy = _account(random.Random(7))
    gc.collect()
    gc.freeze()  # the long-lived projection leaves the GC's young generations, as in a service
    samples = []
    for n in range(2000):
        d = _decision(n)
        started = time.perf_counter()
        verdict = evaluate(d, state, market, policy, d.occurred_at)
        samples.append((time.perf_counter() - started) * 1000)
    assert verdict.allowed, verdict.reason_codes  # the bench must exercise every rule
    return [
        at_most("entry_gate.evaluate_1000_positions_p99", percentile(samples, 99), "ms", 2,
                note=f"median {median(samples):.3f} ms, 16 rules, 2000 evaluations"),
        info("entry_gate.evaluate_1000_positions_median", median(samples), "ms"),
    ]


async def _bench_check() -> list[Metric]:
    import httpx
    from robson_entry_gate.main import build_service
    from robson_entry_gate.settings import EntryGateSettings
    from robson_kit.embedded import Infrastructure
    from robson_kit.testing import ADMIN_HEADERS, unique_schema
    from robson_kit.testing.auth import install_test_key

    install_test_key()  # the gate verifies the bench's token, as it would a client's
    infra = Infrastructure(Path(tempfile.mkdtemp(prefix="bench_gate_"))).start()
    try:
        settings = EntryGateSettings(nats_url=infra.nats_url, database_url=infra.database_url,
                                     db_schema=unique_schema("bench"),
                                     auth_write_rate_per_minute=1_000_000)  # 400 checks, one token
        service = build_service(settings)
        await service.start()
        deps = service.deps
        state, market, _ = _account(random.Random(7))
        deps.accounts._cache["bench"] = (0, state)  # seeded projection: 1,000 open positions
        deps.market.view = market
        app = service.app(manage_lifecycle=False)
        samples = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gate") as client:
            for n in range(400):
                body = _decision(n).model_dump_json()
                started = time.perf_counter()
                response = await client.post("/check", content=body,
                                             headers={"content-type": "application/json",
                                                      **ADMIN_HEADERS})
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
        await service.stop()
    finally:
        infra.stop()
    warm = samples[20:]
    return [
        at_most("entry_gate.check_http_p99", percentile(warm, 99), "ms", 20,
                note=f"median {median(warm):.2f} ms, in-process ASGI, 1,000 open positions"),
        info("entry_gate.check_http_median", median(warm), "ms"),
    ]


ACCOUNTS = 100
POSITIONS_PER_ACCOUNT = 10
TICK_SYMBOLS = SYMBOLS[:10]
TICKS_PER_SECOND = 20  # per symbol
PACED_SECONDS = 8
PERMISSIVE = {
    "positions": {"max_per_trader": 5000, "max_per_account": 5000},
    "sizing": {"risk_per_trade": "0.0001"}, "monthly_loss": {"limit": "0.5"},
    "concurrency": {"cap": None, "budget": "0.5", "unit": "0.0001"},
    "frequency": {"per_minute": 100000, "per_hour": 100000, "per_day": 100000},
    "market": {"max_data_age_seconds": 3600},
}


def _gate_process(infra, log: Path):
    from robson_kit.testing import ServiceProcess, unique_schema

    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           "ROBSON_ENTRY_GATE_DB_SCHEMA": unique_schema("bench_gate"),
           "ROBSON_ENTRY_GATE_LOG_LEVEL": "WARNING"}
    return ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT", log)


def _seed_messages(rng: random.Random) -> list:
    from robson_contracts import AssetBalance, BalanceSnapshot, TradeTick, TradingMode

    out: list = [TradeTick(occurred_at=T0, symbol=s, price=Decimal(100)) for s in TICK_SYMBOLS]
    for a in range(ACCOUNTS):
        account = f"acc{a}"
        out.append(BalanceSnapshot(
            occurred_at=T0, account_id=account, mode=TradingMode.PAPER, equity="1000000",
            balances=(AssetBalance(asset="USDT", free="1000000", locked="0"),)))
        for i in range(POSITIONS_PER_ACCOUNT):
            out.append(PositionOpened(
                occurred_at=T0, account_id=account, position_id=f"{account}-p{i}",
                trader_id=f"t{i % 5}", symbol=TICK_SYMBOLS[i % len(TICK_SYMBOLS)],
                side=rng.choice([PositionSide.LONG, PositionSide.SHORT]), quantity="1",
                entry_price=str(rng.randint(95, 105)), stop_loss=None, initial_risk="5",
                fees="0"))
    return out


async def _acked(bus, stream: str, consumer: str) -> int:
    return (await bus.js.consumer_info(stream, consumer)).ack_floor.stream_seq


async def _wait_consumed(bus, stream: str, consumer: str, timeout: float = 120) -> None:
    import asyncio

    target = (await bus.js.stream_info(stream)).state.last_seq
    deadline = time.perf_counter() + timeout
    while await _acked(bus, stream, consumer) < target:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{consumer} did not reach {target}")
        await asyncio.sleep(0.05)


async def _ticks(bus, stop, clock) -> int:
    """10 symbols × 20 ticks/s, a small random walk around 100 (no kill switch fires)."""
    import asyncio

    from robson_contracts import TradeTick

    rng, prices, sent = random.Random(3), dict.fromkeys(TICK_SYMBOLS, Decimal(100)), 0
    start = time.perf_counter()
    while not stop.is_set():
        for symbol in TICK_SYMBOLS:
            prices[symbol] += Decimal(rng.randint(-5, 5)) / 100
            await bus.publish(TradeTick(occurred_at=clock(), symbol=symbol, price=prices[symbol]))
            sent += 1
        delay = start + sent / (TICKS_PER_SECOND * len(TICK_SYMBOLS)) - time.perf_counter()
        await asyncio.sleep(max(delay, 0))
    return sent


async def _paced(bus, proc, rate: int, clock, offset: int) -> list[Metric]:
    import asyncio

    from robson_contracts import decode
    from robson_contracts import subjects as s

    total, sent, latencies, outcomes = rate * PACED_SECONDS, {}, [], {}
    done = asyncio.Event()

    async def on_gate(msg) -> None:
        gate = decode(msg.data)
        started = sent.get(gate.decision.decision_id)
        if started is None:
            return
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes[gate.outcome.value] = outcomes.get(gate.outcome.value, 0) + 1
        if len(latencies) == total:
            done.set()

    rng = random.Random(rate)
    sub = await bus.nc.subscribe(s.ALL_GATE_DECISIONS, cb=on_gate)
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticks(bus, stop, clock))
    await asyncio.sleep(1)  # the tick stream is flowing before the first decision
    cpu_before, start = process_cpu_seconds(proc.proc.pid), time.perf_counter()
    try:
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            side = rng.choice(["LONG", "SHORT"])
            d = TradeDecision(
                occurred_at=clock(), account_id=f"acc{rng.randrange(ACCOUNTS)}",
                decision_id=f"r{offset + i}", trader_id=f"t{rng.randrange(5)}",
                symbol=rng.choice(TICK_SYMBOLS), decision=side, confidence="0.8",
                entry_price="100", stop_loss="95" if side == "LONG" else "105", quantity="1")
            sent[d.decision_id] = time.perf_counter()
            await bus.publish(d)
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        ticks = await ticker
        await sub.unsubscribe()
    cpu_ms = (process_cpu_seconds(proc.proc.pid) - cpu_before) * 1000
    note = (f"{rate} decisions/s for {PACED_SECONDS}s, {ACCOUNTS} accounts, "
            f"{ACCOUNTS * POSITIONS_PER_ACCOUNT} open positions, ticks {len(TICK_SYMBOLS)}×"
            f"{TICKS_PER_SECOND}/s; {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}")
    name = f"entry_gate.consumer_at_{rate}"
    return [
        info(f"{name}_latency_p50", median(latencies), "ms", note),
        info(f"{name}_latency_p99", percentile(latencies, 99), "ms", note),
        info(f"{name}_throughput", total / elapsed, "decisions/s",
             "decisions published → all GateDecisions received"),
        info(f"{name}_cpu_per_decision", cpu_ms / total, "ms",
             f"service CPU (user+sys) per decision, incl. its share of {ticks} "
             "ticks handled meanwhile"),
    ]


async def _ticks_alone(bus, proc, clock) -> list[Metric]:
    """The steady tick stream with no decisions: the service's CPU per tick (the kill-switch
    watch over the accounts holding the symbol, and persisting the price)."""
    import asyncio

    stop = asyncio.Event()
    cpu_before = process_cpu_seconds(proc.proc.pid)
    ticker = asyncio.create_task(_ticks(bus, stop, clock))
    await asyncio.sleep(PACED_SECONDS)
    stop.set()
    ticks = await ticker
    await asyncio.sleep(0.5)  # the last ticks are consumed
    cpu_ms = (process_cpu_seconds(proc.proc.pid) - cpu_before) * 1000
    return [info("entry_gate.consumer_cpu_per_tick", cpu_ms / ticks, "ms",
                 f"{ticks} ticks ({len(TICK_SYMBOLS)}×{TICKS_PER_SECOND}/s), {ACCOUNTS} accounts "
                 f"holding {ACCOUNTS * POSITIONS_PER_ACCOUNT} positions, no decisions")]


EVENT_ROUNDS = 5  # per account: opened, snapshot, closed, snapshot


def _event_burst(clock) -> list:
    """What paper and position publish around fills: each fill moves a position and brings a
    BalanceSnapshot of the account (100 accounts, interleaved, as a burst)."""
    from robson_contracts import (
        AssetBalance,
        BalanceSnapshot,
        ExitReason,
        PositionClosed,
        TradingMode,
    )

    out: list = []
    for r in range(EVENT_ROUNDS):
        for a in range(ACCOUNTS):
            account, at = f"acc{a}", clock()
            pid = f"{account}-burst{r}"
            balance = BalanceSnapshot(
                occurred_at=at, account_id=account, mode=TradingMode.PAPER, equity="1000000",
                balances=(AssetBalance(asset="USDT", free=str(1000000 - r), locked="0"),))
            out += [
                PositionOpened(occurred_at=at, account_id=account, position_id=pid,
                               trader_id="t0", symbol=TICK_SYMBOLS[r], side=PositionSide.LONG,
                               quantity="1", entry_price="100", stop_loss="95",
                               initial_risk="5", fees="0"),
                balance,
                PositionClosed(occurred_at=at, account_id=account, position_id=pid,
                               trader_id="t0", symbol=TICK_SYMBOLS[r], side=PositionSide.LONG,
                               quantity="1", entry_price="100", exit_price="101",
                               realized_pnl="1", fees="0", exit_reason=ExitReason.TAKE_PROFIT,
                               opened_at=at, holding_seconds=0),
                balance.model_copy(update={"message_id": uuid4()}),
            ]
    return out


async def _events_burst(bus, proc, clock) -> list[Metric]:
    """Position events and balance snapshots as a burst: the service's CPU per event."""
    from robson_contracts import subjects as s

    events = _event_burst(clock)
    cpu_before, start = process_cpu_seconds(proc.proc.pid), time.perf_counter()
    for m in events:
        await bus.publish(m)
    await _wait_consumed(bus, s.POSITIONS.name, "entry_gate_positions")
    await _wait_consumed(bus, s.ACCOUNTS.name, "entry_gate_balances")
    elapsed = time.perf_counter() - start
    cpu_ms = (process_cpu_seconds(proc.proc.pid) - cpu_before) * 1000
    note = (f"{len(events)} events ({ACCOUNTS} accounts × {EVENT_ROUNDS} × opened, snapshot, "
            "closed, snapshot) published as a burst")
    return [info("entry_gate.consumer_cpu_per_event", cpu_ms / len(events), "ms", note),
            info("entry_gate.consumer_event_burst_throughput", len(events) / elapsed,
                 "events/s", note)]


async def _decisions_burst(bus, proc, clock, count: int = 2000) -> list[Metric]:
    """Decisions as a burst, no ticks: the service's CPU per decision in full batches."""
    from robson_contracts import subjects as s

    rng = random.Random(11)
    decisions = [TradeDecision(
        occurred_at=clock(), account_id=f"acc{rng.randrange(ACCOUNTS)}", decision_id=f"burst{i}",
        trader_id=f"t{rng.randrange(5)}", symbol=rng.choice(TICK_SYMBOLS), decision="LONG",
        confidence="0.8", entry_price="100", stop_loss="95", quantity="1") for i in range(count)]
    cpu_before, start = process_cpu_seconds(proc.proc.pid), time.perf_counter()
    for d in decisions:
        await bus.publish(d)
    await _wait_consumed(bus, s.DECISIONS.name, "entry_gate_decisions")
    elapsed = time.perf_counter() - start
    cpu_ms = (process_cpu_seconds(proc.proc.pid) - cpu_before) * 1000
    note = f"{count} decisions over {ACCOUNTS} accounts published as a burst, no ticks"
    return [info("entry_gate.consumer_burst_cpu_per_decision", cpu_ms / count, "ms", note),
            info("entry_gate.consumer_decision_burst_throughput", count / elapsed,
                 "decisions/s", note)]


async def _bench_consumer() -> list[Metric]:
    import asyncio
    import os

    import httpx
    from robson_contracts import subjects as s
    from robson_kit.bus import Bus
    from robson_kit.testing import ADMIN_HEADERS, reset_streams
    from robson_kit.testing.auth import install_test_key

    install_test_key()
    log = Path(tempfile.gettempdir()) / f"robson-bench-gate-{os.getpid()}.log"
    results: list[Metric] = []
    with embedded_infrastructure("robson-bench-gate-") as infra:
        bus = await Bus(infra.nats_url, name="bench").connect()
        await reset_streams(bus)
        proc = _gate_process(infra, log)
        await asyncio.to_thread(proc.start)
        try:
            async with httpx.AsyncClient(base_url=proc.url, headers=ADMIN_HEADERS) as client:
                for a in range(ACCOUNTS):
                    r = await client.put(f"/policies/acc{a}", json=PERMISSIVE)
                    assert r.status_code == 200, r.text
            for m in _seed_messages(random.Random(5)):
                await bus.publish(m)
            await _wait_consumed(bus, s.POSITIONS.name, "entry_gate_positions")
            await _wait_consumed(bus, s.MARKET.name, "entry_gate_market")
            wall0 = time.perf_counter()

            def clock() -> datetime:  # event time runs with the wall clock from T0
                return T0 + timedelta(seconds=time.perf_counter() - wall0)

            results += await _ticks_alone(bus, proc, clock)
            results += await _events_burst(bus, proc, clock)
            results += await _decisions_burst(bus, proc, clock)
            for n, rate in enumerate((50, 200)):
                results += await _paced(bus, proc, rate, clock, n * 100_000)
        finally:
            proc.stop()
            await bus.close()
    return results


async def run() -> list[Metric]:
    return _bench_evaluate() + await _bench_check() + await _bench_consumer()
