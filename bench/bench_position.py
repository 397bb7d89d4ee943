"""position: in-process mark-to-market of 10,000 open positions (P&L, MFE/MAE, drawdown,
trailing-stop candidate) through the service's MarkBook, on seeded random-walk prices; and the
service as its own process on embedded NATS + Postgres: ALLOW_ENTRY → bracket command and entry
fill → PositionOpened at a paced rate (the venue stand-in sends paper's six order events per
entry together) while a steady tick stream flows over ~1,000 open
positions, then one closed-candle round over all of them."""

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
    Fill,
    GateDecision,
    OrderAccepted,
    OrderFilled,
    OrderRole,
    OrderSpec,
    OrderType,
    SubmitBracketOrder,
    TakeProfitLevel,
    TradeDecision,
    TradeTick,
    decode,
    encode,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams, unique_schema
from robson_position.domain.markbook import Mark, MarkBook
from robson_position.domain.orders import position_id_for

from bench.common import (
    Metric,
    at_least,
    embedded_infrastructure,
    info,
    median,
    percentile,
    process_cpu_seconds,
)

POSITIONS = 10_000
SYMBOLS = 500
UPDATES = 20_000
RUNS = 3

OPEN_POSITIONS = 1_000
MARKET = [f"B{i:02d}USDT" for i in range(10)]
TICKS_PER_S = 20  # per symbol
PACED_RATE = 100  # entries/s (each: one GateDecision, then one entry fill)
PACED_SECONDS = 10
TICK_ONLY_SECONDS = 5


def _book(rng: random.Random) -> tuple[MarkBook, list[str]]:
    book = MarkBook()
    symbols = [f"S{i:03d}USDT" for i in range(SYMBOLS)]
    for n in range(POSITIONS):
        entry = Decimal(rng.randint(1000, 100000)) / 10
        book.put(symbols[n % SYMBOLS], Mark(f"p{n}", n % 2 == 0, entry, Decimal("0.5")))
    return book, symbols


def _prices(rng: random.Random, symbols: list[str]) -> list[tuple[str, Decimal]]:
    last = {s: Decimal(rng.randint(1000, 100000)) / 10 for s in symbols}
    out = []
    for _ in range(UPDATES):
        s = rng.choice(symbols)
        last[s] = (last[s] * Decimal(1 + rng.uniform(-0.002, 0.002))).quantize(Decimal("0.01"))
        out.append((s, last[s]))
    return out


def _mark_to_market() -> list[Metric]:
    rng = random.Random(42)
    rates, marks_rates = [], []
    for _ in range(RUNS):
        book, symbols = _book(rng)
        updates = _prices(rng, symbols)
        marked = 0
        started = time.perf_counter()
        for symbol, price in updates:
            marked += book.on_price(symbol, price)
        elapsed = time.perf_counter() - started
        rates.append(len(updates) / elapsed)
        marks_rates.append(marked / elapsed)
    return [
        at_least("position.mark_price_updates_per_s", median(rates), "updates/s", 20_000,
                 note=f"{POSITIONS} open positions over {SYMBOLS} symbols ({POSITIONS // SYMBOLS} per symbol)"),
        info("position.position_marks_per_s", median(marks_rates), "marks/s",
             note="one mark = P&L, MFE/MAE, peak/drawdown and trailing candidate of one position"),
    ]


# --- the service as a process on NATS + Postgres -------------------------------------------


def _gate(n: int, trader: str, symbol: str, at: datetime) -> GateDecision:
    decision = TradeDecision(
        occurred_at=at, account_id="bench", decision_id=f"d-bench-{n}", trader_id=trader,
        symbol=symbol, decision="LONG", confidence="0.8", entry_price="100", stop_loss="95",
        take_profits=(TakeProfitLevel(price="110", fraction="0.5"),
                      TakeProfitLevel(price="120", fraction="0.5")), reasoning="bench")
    return GateDecision(occurred_at=at, account_id="bench", gate_decision_id=f"g-bench-{n}",
                        outcome="ALLOW_ENTRY", decision=decision, checks=(), approved_quantity="1")


def _entry_fill(bracket: SubmitBracketOrder, price: Decimal, at: datetime) -> OrderFilled:
    spec = bracket.entry
    return OrderFilled(
        **bracket.caused(), occurred_at=at, account_id=bracket.account_id, venue="PAPER",
        order_id=spec.order_id, symbol=spec.symbol, position_id=bracket.position_id, role="ENTRY",
        side=spec.side, fill=Fill(fill_id=f"f-{spec.order_id}", price=price, quantity=spec.quantity,
                                  fee=price * spec.quantity / 1000, fee_asset="USDT",
                                  liquidity="TAKER", filled_at=at),
        cumulative_quantity=spec.quantity, average_price=price, remaining_quantity=Decimal(0))


def _accepted(bracket: SubmitBracketOrder, spec: OrderSpec, at: datetime) -> OrderAccepted:
    return OrderAccepted(**bracket.caused(), occurred_at=at, account_id=bracket.account_id,
                         venue="PAPER", order_id=spec.order_id, symbol=spec.symbol,
                         position_id=bracket.position_id, role=spec.role, list_id=bracket.list_id,
                         order=spec)


def _paper_like(bracket: SubmitBracketOrder, price: Decimal, at: datetime) -> list[OrderAccepted | OrderFilled]:
    """What paper publishes together for a bracket: entry accepted, entry filled, then each
    child (take-profit and its stop per level) accepted."""
    entry = bracket.entry
    exit_side = "SELL" if entry.side.value == "BUY" else "BUY"
    children = []
    for tp in bracket.take_profits:
        quantity = entry.quantity * tp.fraction
        children.append(OrderSpec(order_id=tp.order_id, symbol=entry.symbol, side=exit_side,
                                  type=OrderType.LIMIT, quantity=quantity, price=tp.price,
                                  role=OrderRole.TAKE_PROFIT))
        children.append(OrderSpec(order_id=tp.stop_order_id, symbol=entry.symbol, side=exit_side,
                                  type=OrderType.STOP_MARKET, quantity=quantity,
                                  stop_price=bracket.stop_price, role=OrderRole.STOP_LOSS))
    return [_accepted(bracket, entry, at), _entry_fill(bracket, price, at),
            *(_accepted(bracket, child, at) for child in children)]


class Venue:
    """Stands in for paper: fills each entry as soon as its bracket command arrives, and times
    gate → bracket and fill → PositionOpened for the positions it was asked to time."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.gate_sent: dict[str, float] = {}
        self.fill_sent: dict[str, float] = {}
        self.to_bracket: list[float] = []
        self.to_opened: list[float] = []
        self.opened = 0
        self.timed: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.subs = [await self.bus.nc.subscribe(s.PAPER_ORDER_COMMANDS, cb=self._on_command),
                     await self.bus.nc.subscribe(s.ALL_POSITION_EVENTS, cb=self._on_event)]

    async def stop(self) -> None:
        for sub in self.subs:
            await sub.unsubscribe()

    async def _on_command(self, msg) -> None:  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        command = decode(msg.data)
        if not isinstance(command, SubmitBracketOrder):
            return
        pid = command.position_id
        if pid in self.timed and pid in self.gate_sent:
            self.to_bracket.append((now - self.gate_sent.pop(pid)) * 1000)
        task = asyncio.create_task(self._fill(command))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _fill(self, bracket: SubmitBracketOrder) -> None:
        self.fill_sent[bracket.position_id] = time.perf_counter()
        events = _paper_like(bracket, Decimal("100"), datetime.now(UTC))
        await asyncio.gather(*(self.bus.publish(e) for e in events))

    async def _on_event(self, msg) -> None:  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        if not msg.subject.startswith("robson.position.evt.") or b'"PositionOpened"' not in msg.data:
            return
        pid = decode(msg.data).position_id
        self.opened += 1
        if pid in self.timed and pid in self.fill_sent:
            self.to_opened.append((now - self.fill_sent.pop(pid)) * 1000)


async def _ticker(bus: Bus, stop: asyncio.Event, counter: list[int]) -> None:
    """10 symbols × TICKS_PER_S, a random walk around 100 (stops at 95, take-profits at 110)."""
    rng = random.Random(3)
    prices = dict.fromkeys(MARKET, Decimal("100"))
    period = 1 / TICKS_PER_S
    next_at = time.perf_counter()
    while not stop.is_set():
        at = datetime.now(UTC)
        ticks = []
        for sym in MARKET:
            prices[sym] = max(Decimal("96"), min(Decimal("109"), (
                prices[sym] * Decimal(1 + rng.uniform(-0.001, 0.001))).quantize(Decimal("0.01"))))
            ticks.append(TradeTick(occurred_at=at, symbol=sym, price=prices[sym]))
        await asyncio.gather(*(bus.publish_raw(s.subject_for(t), encode(t), headers_for(t)) for t in ticks))
        counter[0] += len(ticks)
        next_at += period
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def _until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.05)


async def _acked_all(bus: Bus, stream: str, consumer: str) -> bool:
    info_ = await bus.js.consumer_info(stream, consumer)
    return info_.num_pending == 0 and info_.num_ack_pending == 0


async def _open_book(bus: Bus, venue: Venue) -> None:
    """OPEN_POSITIONS positions, 100 per symbol, opened through the same bus path."""
    at = datetime.now(UTC)
    gates = [_gate(n, f"t{n}", MARKET[n % len(MARKET)], at) for n in range(OPEN_POSITIONS)]
    for i in range(0, len(gates), 200):
        await asyncio.gather(*(bus.publish(g) for g in gates[i:i + 200]))

    async def all_open() -> bool:
        return venue.opened >= OPEN_POSITIONS
    await _until(all_open, 300, f"{OPEN_POSITIONS} positions open")


async def _paced(bus: Bus, venue: Venue, pid: int) -> tuple[list[Metric], float]:
    total = PACED_RATE * PACED_SECONDS
    gates = [_gate(100_000 + i, f"p{i}", MARKET[i % len(MARKET)], datetime.now(UTC)) for i in range(total)]
    venue.timed = {position_id_for(g.gate_decision_id) for g in gates}
    cpu_before = process_cpu_seconds(pid)
    start = time.perf_counter()
    for i, g in enumerate(gates):
        delay = start + i / PACED_RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        venue.gate_sent[position_id_for(g.gate_decision_id)] = time.perf_counter()
        await bus.publish(g)

    async def all_timed() -> bool:
        return len(venue.to_opened) >= total
    await _until(all_timed, 180, "paced entries opened")
    cpu_ms = (process_cpu_seconds(pid) - cpu_before) * 1000 / total
    note = (f"{PACED_RATE} entries/s for {PACED_SECONDS}s while {len(MARKET)} symbols × {TICKS_PER_S} "
            f"ticks/s flow over {OPEN_POSITIONS} open positions; service in its own process")
    b, o = venue.to_bracket, venue.to_opened
    return [
        info("position.gate_to_bracket_p50_at_100", median(b), "ms", "GateDecision published → "
             "SubmitBracketOrder received; " + note),
        info("position.gate_to_bracket_p99_at_100", percentile(b, 99), "ms", note),
        info("position.fill_to_opened_p50_at_100", median(o), "ms", "entry's order events published → "
             "PositionOpened received; " + note),
        info("position.fill_to_opened_p99_at_100", percentile(o, 99), "ms", note),
    ], cpu_ms


async def _tick_cost(pid: int, ticks: list[int]) -> float:
    """CPU of the service per tick while only ticks flow (ms)."""
    before_cpu, before_ticks = process_cpu_seconds(pid), ticks[0]
    await asyncio.sleep(TICK_ONLY_SECONDS)
    return (process_cpu_seconds(pid) - before_cpu) * 1000 / max(1, ticks[0] - before_ticks)


async def _candle_round(bus: Bus) -> float:
    """One closed 1m candle per symbol (every open position marked, rules run): ms to drain."""
    close_time = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    candles = [Candle(occurred_at=close_time, symbol=sym, timeframe="1m",
                      open_time=close_time - timedelta(minutes=1), close_time=close_time, open="100",
                      high="101", low="99", close="100.5", volume="10") for sym in MARKET]
    started = time.perf_counter()
    await asyncio.gather(*(bus.publish(c) for c in candles))
    await _until(lambda: _acked_all(bus, s.MARKET.name, "position_candles"), 120, "candles handled")
    return (time.perf_counter() - started) * 1000


def _service(infra: Infrastructure, log: Path) -> ServiceProcess:
    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           "ROBSON_POSITION_DB_SCHEMA": unique_schema("bench_position"),
           "ROBSON_POSITION_LOG_LEVEL": "WARNING", "ROBSON_POSITION_RESYNC_ON_START": "false",
           # no venue runs here: the stop watchdog's venue reads (per interval, not per tick)
           # would only be failed connections
           "ROBSON_POSITION_STOP_WATCHDOG_INTERVAL_SECONDS": "0"}
    return ServiceProcess("robson_position", env, "ROBSON_POSITION_HTTP_PORT", log)


async def _through_the_bus(infra: Infrastructure) -> list[Metric]:
    bus = await Bus(infra.nats_url, name="bench").connect()
    await reset_streams(bus)
    log = Path(tempfile.gettempdir()) / f"robson-bench-position-{os.getpid()}.log"
    proc = _service(infra, log)
    await asyncio.to_thread(proc.start)
    assert proc.proc is not None
    pid = proc.proc.pid
    venue = Venue(bus)
    await venue.start()
    stop, ticks = asyncio.Event(), [0]
    ticker = asyncio.create_task(_ticker(bus, stop, ticks))
    try:
        await _open_book(bus, venue)
        tick_cpu = await _tick_cost(pid, ticks)
        results, entry_cpu = await _paced(bus, venue, pid)
        candle_ms = await _candle_round(bus)
    finally:
        stop.set()
        await ticker
        await venue.stop()
        proc.stop()
        await bus.close()
    return [
        *results,
        info("position.service_cpu_per_tick", tick_cpu, "ms",
             f"CPU (user + system) of the position process per tick, {len(MARKET)} symbols × "
             f"{TICKS_PER_S} ticks/s over {OPEN_POSITIONS} open positions, nothing else flowing"),
        info("position.service_cpu_per_entry", entry_cpu, "ms",
             "CPU of the position process per paced entry (GateDecision + paper's six order "
             "events + its share of the tick stream)"),
        info("position.candle_round_ms", candle_ms, "ms",
             f"one closed 1m candle on each of {len(MARKET)} symbols: {OPEN_POSITIONS} positions "
             "marked, rules run and persisted, published → consumer drained"),
    ]


async def run() -> list[Metric]:
    results = _mark_to_market()
    with embedded_infrastructure("robson-bench-position-") as infra:
        results += await _through_the_bus(infra)
    return results
