"""End to end: SignalDetected published → decision → entry_gate → position → paper fills the
entry → PositionOpened, across the six services as OS processes on embedded NATS + Postgres.

Signals are published directly on the signals subject (as `signal` would), each for its own
(trader, symbol) so no position limit denies it; the account's policy is loose and paper's
account rich. Paper fills a market order at the next price after accepting it, so a ticker
publishes a tick every TICK_MS on each symbol that has an entry order waiting for a fill
(the market trading); that wait is part of the latency. Per-hop figures come from a core NATS
subscription seeing each service's publish.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from robson_contracts import (
    GateDecision,
    OrderFilled,
    OrderRole,
    PositionOpened,
    SignalDetected,
    SubmitBracketOrder,
    TradeDecision,
    TradeTick,
    decode,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams

from bench.common import (
    Metric,
    at_least,
    at_most,
    embedded_infrastructure,
    info,
    median,
    percentile,
)

ACCOUNTS = tuple(f"bench{i:03d}" for i in range(100))
"""Traders spread over accounts: entry_gate keeps one projection document per account, and
a real account holds tens of positions, not the thousands this benchmark opens."""
SYMBOLS = tuple(f"B{i:02d}USDT" for i in range(10))
TRADERS = 400
PACED_RATE, PACED_SECONDS = 50, 10
BURST = 1000
TICK_MS = 5
TIMEOUT_SECONDS = 180
SERVICES = ("paper", "execution", "position", "entry_gate", "decision", "signal")
HOPS = ("decision", "gate", "order_cmd", "entry_fill", "opened")
POLICY = {
    "positions": {"max_per_trader": 10000, "max_per_account": 100000, "min_confidence": "0.5"},
    "sizing": {"max_position_notional": "0.0001", "default_capital": "1000000000"},
    "concurrency": {"enabled": False}, "stopout_cooldown": {"enabled": False},
    "frequency": {"per_minute": None, "per_hour": None, "per_day": None},
    "market": {"max_abs_funding_rate": None, "max_data_age_seconds": None},
    "monthly_loss": {"limit": "0.5"}, "daily_loss": {"limit": "0.5"},
}


def _env(infra: Infrastructure, name: str, run: str) -> dict[str, str]:
    prefix = f"ROBSON_{name.upper()}_"
    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           f"{prefix}DB_SCHEMA": f"bench_{run}_{name}", f"{prefix}LOG_LEVEL": "WARNING"}
    if name == "paper":
        rules = {sym: {"tick": "0.01", "step": "0.001", "min_notional": "5"} for sym in SYMBOLS}
        env |= {f"{prefix}SYMBOLS_JSON": json.dumps(rules),
                f"{prefix}DEFAULT_QUOTE_BALANCE": "1000000000"}
    return env


class Tracker:
    """Publish times per (trader, symbol), and when each hop's message was seen on the bus."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.sent: dict[tuple[str, str], float] = {}
        self.seen: dict[tuple[str, str], dict[str, float]] = {}
        self.by_position: dict[str, dict[str, float]] = {}  # order command, entry fill
        self.awaiting_fill: dict[str, int] = {}  # symbol → entry orders not yet filled
        self.denials: Counter[str] = Counter()
        self.opened = 0
        self.all_opened = asyncio.Event()

    def mark(self, key: tuple[str, str], hop: str, at: float) -> None:
        if key in self.sent:
            self.seen.setdefault(key, {}).setdefault(hop, at)

    async def on_message(self, msg: Any) -> None:
        at, m = time.perf_counter(), decode(msg.data)
        if isinstance(m, TradeDecision) and m.position_id is None:
            self.mark((m.trader_id, m.symbol), "decision", at)
        elif isinstance(m, GateDecision):
            self.denials.update(m.reason_codes)
            self.mark((m.decision.trader_id, m.decision.symbol), "gate", at)
        elif isinstance(m, SubmitBracketOrder) and m.position_id:
            self.by_position.setdefault(m.position_id, {})["order_cmd"] = at
            symbol = m.entry.symbol
            self.awaiting_fill[symbol] = self.awaiting_fill.get(symbol, 0) + 1
        elif isinstance(m, OrderFilled) and m.role is OrderRole.ENTRY and m.position_id:
            self.by_position.setdefault(m.position_id, {})["entry_fill"] = at
            self.awaiting_fill[m.symbol] = max(0, self.awaiting_fill.get(m.symbol, 0) - 1)
        elif isinstance(m, PositionOpened):
            key = (m.trader_id, m.symbol)
            for hop, when in self.by_position.get(m.position_id, {}).items():
                self.mark(key, hop, when)
            self.mark(key, "opened", at)
            self.opened += 1
            if self.opened >= self.expected:
                self.all_opened.set()


async def _start(infra: Infrastructure, run: str, logs: Path) -> dict[str, ServiceProcess]:
    procs = {name: ServiceProcess(f"robson_{name}", _env(infra, name, run),
                                  f"ROBSON_{name.upper()}_HTTP_PORT", logs / f"{name}.log")
             for name in SERVICES}
    for proc in procs.values():
        proc.start(ready=False)
    for proc in procs.values():
        await asyncio.to_thread(proc.wait_ready, 180.0)
    async with httpx.AsyncClient(timeout=30) as http:
        for account in ACCOUNTS:
            url = f"{procs['entry_gate'].url}/policies/{account}"
            (await http.put(url, json=POLICY)).raise_for_status()
    return procs


def _signal(trader: str, symbol: str, at: datetime) -> SignalDetected:
    account = ACCOUNTS[int(trader[1:]) % len(ACCOUNTS)]
    return SignalDetected(occurred_at=at, account_id=account, signal_id=uuid.uuid4().hex,
                          strategy="bench", trader_id=trader, symbol=symbol, timeframe="5m",
                          direction="LONG", strength="0.9", price="100", candle_time=at)


async def _ticks(bus: Bus, symbols: list[str]) -> None:
    now = datetime.now(UTC)
    await asyncio.gather(*(bus.publish(TradeTick(
        occurred_at=now, symbol=sym, price=Decimal(100), trade_id=uuid.uuid4().hex,
        source="EXTERNAL")) for sym in symbols))


async def _ticker(bus: Bus, tracker: Tracker, stop: asyncio.Event) -> None:
    """The market: a tick on every symbol with an entry order waiting for its fill."""
    while not stop.is_set():
        await _ticks(bus, [sym for sym, n in tracker.awaiting_fill.items() if n > 0])
        await asyncio.sleep(TICK_MS / 1000)


async def _phase(bus: Bus, keys: list[tuple[str, str]], rate: float | None) -> Tracker:
    tracker = Tracker(len(keys))
    subs = [await bus.nc.subscribe(subject, cb=tracker.on_message) for subject in (
        s.ALL_DECISIONS, s.ALL_GATE_DECISIONS, s.PAPER_ORDER_COMMANDS, s.ALL_ORDER_EVENTS,
        s.ALL_POSITION_EVENTS)]
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(bus, tracker, stop))
    start = time.perf_counter()
    try:
        for i, (trader, symbol) in enumerate(keys):
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            tracker.sent[(trader, symbol)] = time.perf_counter()
            await bus.publish(_signal(trader, symbol, datetime.now(UTC)))
        try:
            await asyncio.wait_for(tracker.all_opened.wait(), timeout=TIMEOUT_SECONDS)
        except TimeoutError:
            reached = {hop: len(_latencies(tracker, hop)) for hop in HOPS}
            raise RuntimeError(f"{tracker.opened}/{len(keys)} opened; per hop: {reached}; "
                               f"gate reason codes: {dict(tracker.denials)}") from None
    finally:
        stop.set()
        await ticker
        for sub in subs:
            await sub.unsubscribe()
    return tracker


def _latencies(tracker: Tracker, hop: str) -> list[float]:
    return [(seen[hop] - tracker.sent[key]) * 1000 for key, seen in tracker.seen.items() if hop in seen]


def _hops(tracker: Tracker) -> str:
    """Median time of each hop after the previous one, in ms."""
    parts, previous = [], "sent"
    for hop in HOPS:
        deltas = [(seen[hop] - (tracker.sent[key] if previous == "sent" else seen[previous])) * 1000
                  for key, seen in tracker.seen.items() if hop in seen and (previous == "sent" or previous in seen)]
        parts.append(f"{previous}→{hop} {median(deltas):.1f}")
        previous = hop
    return "; ".join(parts)


async def run() -> list[Metric]:
    with embedded_infrastructure() as infra:
        bus = await Bus(infra.nats_url, name="bench-e2e").connect()
        await reset_streams(bus)
        logs = Path(tempfile.mkdtemp(prefix="robson-bench-e2e-"))
        procs = await _start(infra, uuid.uuid4().hex[:6], logs)
        try:
            await _ticks(bus, list(SYMBOLS))  # paper rejects a market order on an unseen symbol
            await asyncio.sleep(2)
            keys = [(f"t{i // len(SYMBOLS)}", SYMBOLS[i % len(SYMBOLS)])
                    for i in range(PACED_RATE * PACED_SECONDS + BURST)]
            paced = await _phase(bus, keys[:PACED_RATE * PACED_SECONDS], PACED_RATE)
            opened = _latencies(paced, "opened")
            started = time.perf_counter()
            burst = await _phase(bus, keys[PACED_RATE * PACED_SECONDS:], None)
            drained = BURST / (time.perf_counter() - started)
        finally:
            for proc in reversed(procs.values()):
                proc.stop()
            await bus.close()
    note = f"{PACED_RATE} signals/s for {PACED_SECONDS}s; SignalDetected published → PositionOpened seen"
    return [
        at_most("e2e.signal_to_open_p50_at_50", median(opened), "ms", 25, note),
        at_most("e2e.signal_to_open_p99_at_50", percentile(opened, 99), "ms", 100, note),
        info("e2e.hops_p50_at_50", median(opened), "ms", _hops(paced)),
        at_least("e2e.sustained_signals_per_s", drained, "signals/s", 200,
                 f"burst of {BURST} signals until every position is open; hops: {_hops(burst)}"),
    ]
