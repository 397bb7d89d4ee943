"""End to end: SignalDetected published → decision → entry_gate → position → paper fills the
entry → PositionOpened, across the six services as OS processes on embedded NATS + Postgres.

Signals are published directly on the signals subject (as `signal` would), each for its own
(trader, symbol) so no position limit denies it; the account's policy is loose and paper's
account rich. The market is steady and independent of the load: every symbol ticks TICK_RATE
times a second for the whole run (all services consume those ticks). Paper runs with
MARKET_FILL=last_price: a market entry fills at once against the last (fresh) price, as a venue
fills against its book; with the default next_price it would wait up to one tick interval.
A first phase at 5 signals/s shows the pipeline's own latency, with the cores mostly idle.
Per-hop figures come from a core NATS subscription seeing each service's publish; per-service
CPU (user+system of the process) per phase shows where the work goes.

BENCH_E2E_PROFILE=entry_gate,position runs those services under cProfile (sitecustomize on
PYTHONPATH) and prints their top functions by own time after the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import pstats
import signal
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
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
    decode,
)
from robson_contracts import subjects as s
from robson_contracts.registry import TYPE_HEADER
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams
from robson_kit.testing.auth import ADMIN_HEADERS, PUBLIC_PEM

from bench import hop_trace, pg_activity, roundtrips
from bench.common import (
    MARKET_SYMBOLS,
    MARKET_TICK_RATE,
    MARKET_WARM_SECONDS,
    Metric,
    at_least,
    at_most,
    embedded_infrastructure,
    info,
    infra_cpu_by_process,
    market_cpu_windows,
    median,
    percentile,
    process_cpu_seconds,
    share_note,
    start_services,
    steady_market,
    wire_peers,
)
from bench.lean_chain import LeanFigures
from bench.lean_chain import measure as measure_lean

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = tuple(f"bench{i:03d}" for i in range(100))
"""Traders spread over accounts: entry_gate keeps one projection document per account, and
a real account holds tens of positions, not the thousands this benchmark opens."""
SYMBOLS = MARKET_SYMBOLS
TRADERS = 400
PACED_RATE, PACED_SECONDS = 50, 10
UNLOADED_RATE, UNLOADED_SECONDS = 5, 8
"""A rate the two cores handle with room to spare: the pipeline's own latency, not queueing."""
BURST = 1000
SUSTAINED_TARGET = 400
"""signals/s (#21)."""
BURST_CPU_TARGET = 5.0
"""ms of CPU per signal in the burst, every process counted (#21)."""
ISSUE_FLOOR_BURST = 1_500
"""msg/s: the lowest burst drain #21 measured for the lean chain on the two-core host its
absolute targets were set on (1,500–1,900). That host ran the chain ~3× as fast as this one
does; a target as a ratio to the floor measured in the same run holds on any host."""
SUSTAINED_RATIO_TARGET = round(SUSTAINED_TARGET / ISSUE_FLOOR_BURST, 2)
"""0.27: 400 signals/s over that floor (0.2667, rounded up), the strictest of the range
(1,900 gives 0.21)."""
BURST_CPU_RATIO_TARGET = BURST_CPU_TARGET / (2 * 1000 / ISSUE_FLOOR_BURST)
"""3.75: 5 ms over the most CPU the floor can have spent per message there (two cores busy
throughout the drain: 1.33 ms); a floor that left a core idle spent less, and the ratio
would be larger."""
TICK_RATE = MARKET_TICK_RATE
"""Ticks per second on each symbol: 10 symbols × 20/s, whatever the load (bench.common's
steady market, the one bench_market measures)."""
MARKET_WINDOWS, MARKET_SECONDS = 3, 5.0
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


MARKET_FILL = os.environ.get("BENCH_E2E_MARKET_FILL", "last_price")
"""paper's MARKET_FILL; next_price adds up to one tick interval to the entry fill."""
PROFILED = tuple(n for n in os.environ.get("BENCH_E2E_PROFILE", "").split(",") if n)
TRACED = os.environ.get("BENCH_E2E_TRACE") == "1"
"""Each service times the steps of its batches (``bench/hop_trace.py``); printed per consumer
for the 5/s phase. The wrappers cost a little: quote the figures of a run without them."""
COUNTED = os.environ.get("BENCH_E2E_ROUNDTRIPS") == "1"
"""Each service counts its statements to Postgres (``bench/roundtrips.py``); printed per signal
for the 50/s phase. One sitecustomize per process: not with a profile or a trace."""
SITECUSTOMIZE = """
import atexit, cProfile, os, signal, sys
_profile = cProfile.Profile()
_profile.enable()
def _dump(*_):
    _profile.disable()
    _profile.dump_stats(os.environ["BENCH_PROFILE_OUT"])
atexit.register(_dump)
signal.signal(signal.SIGUSR1, lambda *_: _dump())
"""


def _env(infra: Infrastructure, name: str, run: str, logs: Path) -> dict[str, str]:
    prefix = f"ROBSON_{name.upper()}_"
    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           f"{prefix}DB_SCHEMA": f"bench_{run}_{name}", f"{prefix}LOG_LEVEL": "WARNING",
           "ROBSON_AUTH_PUBLIC_KEY": PUBLIC_PEM}  # the policy PUTs below carry a test admin token
    if name == "paper":
        rules = {sym: {"tick": "0.01", "step": "0.001", "min_notional": "5"} for sym in SYMBOLS}
        env |= {f"{prefix}SYMBOLS_JSON": json.dumps(rules),
                f"{prefix}DEFAULT_QUOTE_BALANCE": "1000000000",
                f"{prefix}MARKET_FILL": MARKET_FILL}
    if name in PROFILED:
        (logs / "site").mkdir(exist_ok=True)
        (logs / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env |= {"PYTHONPATH": str(logs / "site"), "BENCH_PROFILE_OUT": str(logs / f"{name}.prof")}
    elif TRACED:  # one sitecustomize per process: a profiled service is not traced
        env |= {"PYTHONPATH": str(hop_trace.site_dir(ROOT, logs / "trace_site")),
                "BENCH_HOP_TRACE": str(logs / f"{name}.trace")}
    elif COUNTED:
        env |= {"PYTHONPATH": str(roundtrips.site_dir(ROOT, logs / "roundtrips_site")),
                "BENCH_ROUNDTRIPS": str(logs / f"{name}.roundtrips")}
    return env


class Tracker:
    """Publish times per (trader, symbol), and when each hop's message was seen on the bus.

    During a phase a message seen is only stamped and kept (``on_message``); it is decoded once
    the phase is over (``settle``). Decoding ~10 messages a signal as they came, in the
    benchmark's own process on the same two cores, delayed the stamps behind one another and
    took CPU from the services (the lean chain's observer only reads its last hop's JSON)."""

    WANTED = frozenset(cls.__name__ for cls in (
        TradeDecision, GateDecision, SubmitBracketOrder, OrderFilled, PositionOpened))

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.sent: dict[tuple[str, str], float] = {}
        self.seen: dict[tuple[str, str], dict[str, float]] = {}
        self.by_position: dict[str, dict[str, float]] = {}  # order command, entry fill
        self.denials: Counter[str] = Counter()
        self.opened = 0
        self.all_opened = asyncio.Event()
        self._arrived: list[tuple[float, bytes]] = []

    def mark(self, key: tuple[str, str], hop: str, at: float) -> None:
        if key in self.sent:
            self.seen.setdefault(key, {}).setdefault(hop, at)

    async def on_message(self, msg: Any) -> None:
        at = time.perf_counter()
        kind = (msg.headers or {}).get(TYPE_HEADER)
        if kind is not None and kind not in self.WANTED:
            return
        self._arrived.append((at, msg.data))
        if kind == PositionOpened.__name__:
            self.opened += 1
            if self.opened >= self.expected:
                self.all_opened.set()

    def settle(self) -> None:
        """Decode what the phase saw, in the order it came, and mark each hop."""
        arrived, self._arrived = self._arrived, []
        for at, data in arrived:
            m = decode(data)
            if isinstance(m, TradeDecision) and m.position_id is None:
                self.mark((m.trader_id, m.symbol), "decision", at)
            elif isinstance(m, GateDecision):
                self.denials.update(m.reason_codes)
                self.mark((m.decision.trader_id, m.decision.symbol), "gate", at)
            elif isinstance(m, SubmitBracketOrder) and m.position_id:
                self.by_position.setdefault(m.position_id, {})["order_cmd"] = at
            elif isinstance(m, OrderFilled) and m.role is OrderRole.ENTRY and m.position_id:
                self.by_position.setdefault(m.position_id, {})["entry_fill"] = at
            elif isinstance(m, PositionOpened):
                key = (m.trader_id, m.symbol)
                for hop, when in self.by_position.get(m.position_id, {}).items():
                    self.mark(key, hop, when)
                self.mark(key, "opened", at)


async def _start(infra: Infrastructure, run: str, logs: Path) -> dict[str, ServiceProcess]:
    procs = {name: ServiceProcess(f"robson_{name}", _env(infra, name, run, logs),
                                  f"ROBSON_{name.upper()}_HTTP_PORT", logs / f"{name}.log")
             for name in SERVICES}
    wire_peers(procs)
    await start_services(procs)
    try:
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            for account in ACCOUNTS:
                url = f"{procs['entry_gate'].url}/policies/{account}"
                (await http.put(url, json=POLICY)).raise_for_status()
    except BaseException:  # no service outlives a failed start
        for proc in procs.values():
            proc.stop()
        raise
    return procs


def _signal(trader: str, symbol: str, at: datetime) -> SignalDetected:
    account = ACCOUNTS[int(trader[1:]) % len(ACCOUNTS)]
    return SignalDetected(occurred_at=at, account_id=account, signal_id=uuid.uuid4().hex,
                          strategy="bench", trader_id=trader, symbol=symbol, timeframe="5m",
                          direction="LONG", strength="0.9", price="100", candle_time=at)


async def _phase(bus: Bus, keys: list[tuple[str, str]], rate: float | None) -> Tracker:
    tracker = Tracker(len(keys))
    subs = [await bus.nc.subscribe(subject, cb=tracker.on_message) for subject in (
        s.ALL_DECISIONS, s.ALL_GATE_DECISIONS, s.PAPER_ORDER_COMMANDS, s.ALL_ORDER_EVENTS,
        s.ALL_POSITION_EVENTS)]
    start = time.perf_counter()
    try:
        for i, (trader, symbol) in enumerate(keys):
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            detected = _signal(trader, symbol, datetime.now(UTC))  # built before the clock starts
            tracker.sent[(trader, symbol)] = time.perf_counter()
            await bus.publish(detected)
        try:
            await asyncio.wait_for(tracker.all_opened.wait(), timeout=TIMEOUT_SECONDS)
        except TimeoutError:
            tracker.settle()
            reached = {hop: len(_latencies(tracker, hop)) for hop in HOPS}
            raise RuntimeError(f"{tracker.opened}/{len(keys)} opened; per hop: {reached}; "
                               f"gate reason codes: {dict(tracker.denials)}") from None
    finally:
        for sub in subs:
            await sub.unsubscribe()
    tracker.settle()
    return tracker


def _latencies(tracker: Tracker, hop: str) -> list[float]:
    return [(seen[hop] - tracker.sent[key]) * 1000 for key, seen in tracker.seen.items() if hop in seen]


def _drift(tracker: Tracker) -> tuple[float, float]:
    """Median latency of the first and of the last second of signals, in send order: equal
    when the platform keeps up, growing when a backlog builds."""
    ordered = sorted((tracker.sent[key], (seen["opened"] - tracker.sent[key]) * 1000)
                     for key, seen in tracker.seen.items() if "opened" in seen)
    n = max(1, len(ordered) // PACED_SECONDS)
    return median([ms for _, ms in ordered[:n]]), median([ms for _, ms in ordered[-n:]])


def _hop_medians(tracker: Tracker) -> dict[str, float]:
    """Median time of each hop after the previous one, in ms."""
    out, previous = {}, "sent"
    for hop in HOPS:
        deltas = [(seen[hop] - (tracker.sent[key] if previous == "sent" else seen[previous])) * 1000
                  for key, seen in tracker.seen.items() if hop in seen and (previous == "sent" or previous in seen)]
        out[f"{previous}→{hop}"] = median(deltas)
        previous = hop
    return out


def _tail_hops(tracker: Tracker, share: float = 0.02) -> str:
    """Where the slowest ``share`` of signals spent their time: each hop's median over them
    (against ``_hops``, the same over all), and the hop that was their largest, counted."""
    ranked = sorted((seen["opened"] - tracker.sent[key], key) for key, seen in tracker.seen.items()
                    if all(h in seen for h in HOPS))
    slow = [key for _, key in ranked[-max(1, int(len(ranked) * share)):]]
    per_hop: dict[str, list[float]] = {}
    largest: dict[str, int] = {}
    for key in slow:
        seen, previous, at = tracker.seen[key], "sent", tracker.sent[key]
        deltas = {}
        for hop in HOPS:
            deltas[f"{previous}→{hop}"] = (seen[hop] - at) * 1000
            previous, at = hop, seen[hop]
        for name, ms in deltas.items():
            per_hop.setdefault(name, []).append(ms)
        top = max(deltas, key=deltas.__getitem__)
        largest[top] = largest.get(top, 0) + 1
    hops = "; ".join(f"{name} {median(ms):.1f}" for name, ms in per_hop.items())
    counted = ", ".join(f"{name} ×{n}" for name, n in sorted(largest.items(), key=lambda kv: -kv[1]))
    return f"p98; the slowest {len(slow)} signals' hops (medians): {hops}; the largest of each: {counted}"


def _hops(tracker: Tracker) -> str:
    return "; ".join(f"{name} {ms:.1f}" for name, ms in _hop_medians(tracker).items())


async def _market_lag(bus: Bus) -> dict[str, int]:
    """Ticks each service's durable market consumer has not yet processed."""
    return {c.name: c.num_pending + c.num_ack_pending
            for c in await bus.js.consumers_info(s.MARKET.name)}


class Cpu:
    """CPU seconds each service process — and the embedded NATS and Postgres (postmaster and
    its backends) — used between two marks."""

    def __init__(self, procs: dict[str, ServiceProcess], infra: Infrastructure) -> None:
        self.pids = {name: proc.proc.pid for name, proc in procs.items() if proc.proc}
        self.infra = infra
        self.mark()

    def _now(self) -> dict[str, float]:
        now = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        return now | infra_cpu_by_process(self.infra)

    def mark(self) -> None:
        self.start = self._now()

    def used(self) -> dict[str, float]:
        return {name: sec - self.start.get(name, 0.0) for name, sec in self._now().items()}


def _cpu_note(used: dict[str, float], signals: int) -> str:
    return ", ".join(f"{name} {sec * 1000 / signals:.1f}"
                     for name, sec in sorted(used.items(), key=lambda kv: -kv[1]))


async def _measure(bus: Bus, procs: dict[str, ServiceProcess], infra: Infrastructure,
                   phases: dict[str, tuple[float, float]]) -> list[Metric]:
    """``phases``: filled with when each phase began and ended (``perf_counter``)."""
    # The market alone: what ticks cost each process (bench_market's measurement, shorter).
    market_totals, market_shares = await market_cpu_windows(procs, infra, MARKET_WINDOWS,
                                                            MARKET_SECONDS, "market only")
    cpu = Cpu(procs, infra)
    unloaded_n, paced_n = UNLOADED_RATE * UNLOADED_SECONDS, PACED_RATE * PACED_SECONDS
    keys = [(f"t{i // len(SYMBOLS)}", SYMBOLS[i % len(SYMBOLS)])
            for i in range(unloaded_n + paced_n + BURST)]
    began = time.perf_counter()
    unloaded = await _phase(bus, keys[:unloaded_n], UNLOADED_RATE)
    phases["unloaded"] = (began, time.perf_counter())
    keys = keys[unloaded_n:]
    pg_before = await pg_activity.snapshot(infra.database_url)
    cpu.mark()
    began = time.perf_counter()
    paced = await _phase(bus, keys[:paced_n], PACED_RATE)
    phases["paced"] = (began, time.perf_counter())
    paced_cpu = cpu.used()
    pg_paced = pg_activity.describe(pg_before, await pg_activity.snapshot(infra.database_url),
                                    paced_n)
    lag_paced = await _market_lag(bus)
    opened, opened_unloaded = _latencies(paced, "opened"), _latencies(unloaded, "opened")
    pg_before = await pg_activity.snapshot(infra.database_url)
    cpu.mark()
    started = time.perf_counter()
    burst = await _phase(bus, keys[paced_n:], None)
    elapsed = time.perf_counter() - started
    burst_cpu, lag_burst = cpu.used(), await _market_lag(bus)
    pg_burst = pg_activity.describe(pg_before, await pg_activity.snapshot(infra.database_url),
                                    BURST)
    drained = BURST / elapsed
    done_at = sorted(seen["opened"] - started for seen in burst.seen.values() if "opened" in seen)
    tail = (f"opened by {percentile(done_at, 50):.1f}s (half), {percentile(done_at, 90):.1f}s "
            f"(90%), {percentile(done_at, 99):.1f}s (99%), {done_at[-1]:.1f}s (all)")
    note = (f"{PACED_RATE} signals/s for {PACED_SECONDS}s on a steady market of {len(SYMBOLS)} "
            f"symbols × {TICK_RATE} ticks/s; paper MARKET_FILL={MARKET_FILL}; SignalDetected "
            "published → PositionOpened seen")
    metrics = [
        at_most("e2e.signal_to_open_p50_at_50", median(opened), "ms", 25, note),
        at_most("e2e.signal_to_open_p99_at_50", percentile(opened, 99), "ms", 100, note),
        info("e2e.tail_hops_at_50", percentile(opened, 98), "ms", _tail_hops(paced)),
        info("e2e.hops_p50_at_50", median(opened), "ms", _hops(paced)),
        info(f"e2e.signal_to_open_p50_at_{UNLOADED_RATE}", median(opened_unloaded), "ms",
             f"{UNLOADED_RATE} signals/s for {UNLOADED_SECONDS}s, the cores mostly idle: the "
             f"pipeline's own latency (p99 {percentile(opened_unloaded, 99):.1f} ms); "
             f"hops: {_hops(unloaded)}"),
        info("e2e.p50_last_second_at_50", _drift(paced)[1], "ms",
             f"first second {_drift(paced)[0]:.1f} ms: a latency that grows through the run "
             "means 50/s is not sustained"),
    ]
    metrics += [info(f"e2e.hop_p50_at_50.{name.replace('→', '_to_')}", ms, "ms", "median at 50/s")
                for name, ms in _hop_medians(paced).items()]
    metrics += [
        info("e2e.cpu_ms_per_signal_at_50", sum(paced_cpu.values()) * 1000 / (PACED_RATE * PACED_SECONDS),
             "ms CPU", "six services + NATS + Postgres, ticks included; per process: "
             f"{_cpu_note(paced_cpu, PACED_RATE * PACED_SECONDS)}; market lag after: {lag_paced}"),
        info("e2e.postgres_at_50", paced_n, "signals", f"Postgres at 50/s: {pg_paced}"),
        info("e2e.cpu_share_market_only", median(market_totals), "% of a core",
             f"{len(SYMBOLS)}×{TICK_RATE} ticks/s and no signals (services, NATS, Postgres), median "
             f"of {MARKET_WINDOWS}×{MARKET_SECONDS:g}s as bench_market measures it: " + share_note(
                 {n: median(v) for n, v in market_shares.items()})),
        at_most("e2e.cpu_ms_per_signal_burst", sum(burst_cpu.values()) * 1000 / BURST, "ms CPU",
                BURST_CPU_TARGET,
                f"the burst of {BURST}: six services + NATS + Postgres, ticks included; per "
                f"process: {_cpu_note(burst_cpu, BURST)}"),
        at_least("e2e.sustained_signals_per_s", drained, "signals/s", SUSTAINED_TARGET,
                 f"burst of {BURST} signals drained until every position is open ({elapsed:.1f}s; "
                 f"{tail}) on the steady market; hops: {_hops(burst)}; CPU ms/signal "
                 f"{sum(burst_cpu.values()) * 1000 / BURST:.1f}: "
                 f"{_cpu_note(burst_cpu, BURST)}; market lag (ticks pending) after: {lag_burst}"),
        info("e2e.postgres_burst", BURST, "signals", f"Postgres in the burst: {pg_burst}"),
    ]
    return metrics


async def _dump_profiles(procs: dict[str, ServiceProcess], logs: Path) -> None:
    """SIGUSR1 makes a profiled service write its profile (SIGTERM ends it without atexit)."""
    for name in PROFILED:
        proc = procs[name].proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if all((logs / f"{name}.prof").exists() for name in PROFILED):
            return
        await asyncio.sleep(0.1)


def _print_profiles(logs: Path) -> None:
    for name in PROFILED:
        path = logs / f"{name}.prof"
        if path.exists():
            print(f"--- cProfile of {name} (by own time) ---")
            pstats.Stats(str(path)).sort_stats("tottime").print_stats(25)
            pstats.Stats(str(path)).sort_stats("cumtime").print_stats(40)


async def _print_consumers(procs: dict[str, ServiceProcess], signals: int) -> None:
    """Messages per signal each consumer handled over the whole run (by outcome) and its mean
    batch size: where the per-signal work goes, ticks included."""
    print(f"--- consumers over the run ({signals} signals): messages per signal by outcome; "
          "mean batch")
    async with httpx.AsyncClient(timeout=10) as http:
        for name, proc in procs.items():
            try:
                text = (await http.get(f"{proc.url}/metrics")).text
            except httpx.HTTPError:
                continue
            counts: dict[str, Counter[str]] = {}
            batches: dict[str, float] = {}
            for line in text.splitlines():
                if line.startswith("robson_messages_total{"):
                    labels, value = line[len("robson_messages_total{"):].rsplit("} ", 1)
                    fields = dict(part.split("=", 1) for part in labels.split(","))
                    consumer, outcome = fields["consumer"].strip('"'), fields["outcome"].strip('"')
                    counts.setdefault(consumer, Counter())[outcome] += float(value)
                elif line.startswith("robson_message_handle_seconds_count{"):
                    labels, value = line[len("robson_message_handle_seconds_count{"):].rsplit("} ", 1)
                    consumer = dict(part.split("=", 1) for part in labels.split(","))["consumer"]
                    batches[consumer.strip('"')] = float(value)
            for consumer, by in sorted(counts.items()):
                handled = by.get("ok", 0) + by.get("duplicate", 0)
                mean = handled / batches[consumer] if batches.get(consumer) else 0.0
                outcomes = ", ".join(f"{k} {v / signals:.2f}" for k, v in sorted(by.items()))
                print(f"  {name}/{consumer}: {outcomes}; batch {mean:.1f}")


def _floor_metrics(lean: LeanFigures, robson: dict[str, float]) -> list[Metric]:
    """The lean chain's figures and Robson's as ratios to them (#21's targets: ≤ 1.5× at 5/s,
    ≤ 2× p50 and ≤ 3× p99 at 50/s; its sustained rate and burst CPU, set in absolute terms,
    over the floor #21 measured beside them)."""
    note = "lean 5-hop exactly-once chain (bench/lean_hop.py), same host, same invocation"
    out = [info("floor.p50_at_5", lean.p50_at_5, "ms", note),
           info("floor.p50_at_50", lean.p50_at_50, "ms", f"p99 {lean.p99_at_50:.1f} ms; {note}"),
           info("floor.cpu_ms_per_msg_at_50", lean.cpu_ms_per_msg_at_50, "ms CPU",
                "5 hop processes + NATS + Postgres"),
           info("floor.burst_per_s", lean.burst_per_s, "msg/s",
                f"CPU {lean.cpu_ms_per_msg_burst:.1f} ms/msg")]
    pairs = (("p50_at_5", robson["p50_at_5"], lean.p50_at_5, 1.5),
             ("p50_at_50", robson["p50_at_50"], lean.p50_at_50, 2.0),
             ("p99_at_50", robson["p99_at_50"], lean.p99_at_50, 3.0))
    out += [at_most(f"e2e.ratio_to_floor.{name}", mine / floor, "×", target,
                    f"Robson {mine:.1f} ms / floor {floor:.1f} ms")
            for name, mine, floor, target in pairs]
    out.append(at_least(
        "e2e.ratio_to_floor.sustained", robson["sustained"] / lean.burst_per_s, "×",
        SUSTAINED_RATIO_TARGET,
        f"Robson {robson['sustained']:.0f} signals/s / floor {lean.burst_per_s:.0f} msg/s drained "
        f"from a burst of {BURST:,}; target {SUSTAINED_TARGET}/s over #21's floor of "
        f"{ISSUE_FLOOR_BURST:,} msg/s (here {SUSTAINED_TARGET}/s is "
        f"{SUSTAINED_TARGET / lean.burst_per_s:.2f}× the floor)"))
    out.append(at_most(
        "e2e.ratio_to_floor.burst_cpu", robson["burst_cpu"] / lean.cpu_ms_per_msg_burst, "×",
        BURST_CPU_RATIO_TARGET,
        f"CPU per signal in the burst: Robson {robson['burst_cpu']:.1f} ms / floor "
        f"{lean.cpu_ms_per_msg_burst:.1f} ms per message; target {BURST_CPU_TARGET:g} ms over the "
        f"most #21's floor can have spent ({2000 / ISSUE_FLOOR_BURST:.2f} ms: two cores, "
        f"{ISSUE_FLOOR_BURST:,} msg/s)"))
    cores = robson["cpu_at_50"] * PACED_RATE / 1000
    out.append(info(
        "e2e.ratio_to_floor.cpu_at_50", robson["cpu_at_50"] / lean.cpu_ms_per_msg_at_50, "×",
        f"CPU per signal at {PACED_RATE}/s: Robson {robson['cpu_at_50']:.1f} ms / floor "
        f"{lean.cpu_ms_per_msg_at_50:.1f} ms per message through its chain; Robson used "
        f"{cores:.2f} of the host's {os.cpu_count()} cores there: near all of them, the queues "
        f"grow and the {PACED_RATE}/s latency ratios above measure the queues"))
    return out


async def run() -> list[Metric]:
    with embedded_infrastructure() as infra:
        lean = await measure_lean(infra)
        bus = await Bus(infra.nats_url, name="bench-e2e").connect()
        await reset_streams(bus)
        logs = Path(tempfile.mkdtemp(prefix="robson-bench-e2e-"))
        stop = asyncio.Event()
        # paper rejects orders on unseen symbols
        market = asyncio.create_task(steady_market(bus, stop, SYMBOLS, TICK_RATE))
        procs = await _start(infra, uuid.uuid4().hex[:6], logs)
        try:
            await asyncio.sleep(MARKET_WARM_SECONDS)
            phases: dict[str, tuple[float, float]] = {}
            metrics = await _measure(bus, procs, infra, phases)
            await _print_consumers(procs, UNLOADED_RATE * UNLOADED_SECONDS
                                   + PACED_RATE * PACED_SECONDS + BURST)
            figures = {m.name: m.value for m in metrics}
            metrics += _floor_metrics(lean, {
                "p50_at_5": figures[f"e2e.signal_to_open_p50_at_{UNLOADED_RATE}"],
                "p50_at_50": figures["e2e.signal_to_open_p50_at_50"],
                "p99_at_50": figures["e2e.signal_to_open_p99_at_50"],
                "sustained": figures["e2e.sustained_signals_per_s"],
                "burst_cpu": figures["e2e.cpu_ms_per_signal_burst"],
                "cpu_at_50": figures["e2e.cpu_ms_per_signal_at_50"]})
        finally:
            stop.set()
            await market
            await _dump_profiles(procs, logs)
            for proc in reversed(procs.values()):
                proc.stop()
            await bus.close()
        _print_profiles(logs)
        if TRACED:
            print("\n".join(hop_trace.by_consumer(
                {name: logs / f"{name}.trace" for name in SERVICES}, *phases["unloaded"])))
        if COUNTED:
            print("\n".join(roundtrips.per_signal(
                {name: logs / f"{name}.roundtrips" for name in SERVICES}, *phases["paced"],
                PACED_RATE * PACED_SECONDS)))
        print(f"service logs: {logs}")
    return metrics
