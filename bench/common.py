"""What every benchmark returns, and the statistics they quote (medians and percentiles)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from robson_contracts import TradeTick
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str
    target: str = ""
    """Human-readable target, e.g. '>= 2000' or '< 10'."""
    met: bool | None = None
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def at_least(name: str, value: float, unit: str, target: float, note: str = "") -> Metric:
    return Metric(name, round(value, 3), unit, f">= {target:g}", value >= target, note)


def at_most(name: str, value: float, unit: str, target: float, note: str = "") -> Metric:
    return Metric(name, round(value, 3), unit, f"< {target:g}", value < target, note)


def info(name: str, value: float, unit: str, note: str = "") -> Metric:
    return Metric(name, round(value, 3), unit, "", None, note)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextmanager
def embedded_infrastructure(prefix: str = "robson-bench-") -> Iterator[Infrastructure]:
    """Fresh embedded NATS + Postgres in a temp dir, ignoring NATS_URL/DATABASE_URL: benchmarks
    measure what `make run` runs, never a shared external server."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        infra = Infrastructure(Path(tmp))
        saved = {k: os.environ.pop(k, None) for k in ("NATS_URL", "DATABASE_URL")}
        try:
            infra.start()
        finally:
            os.environ.update({k: v for k, v in saved.items() if v})
        try:
            yield infra
        finally:
            infra.stop()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc; 0 elsewhere): a cost
    figure that, unlike wall time, barely moves when the shared machine is busy."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_cpu_by_process(infra: Infrastructure) -> dict[str, float]:
    """CPU used so far by the embedded NATS (``nats-server``) and Postgres (``postgres``: the
    postmaster and its backends), each when it runs."""
    import psutil

    used: dict[str, float] = {}
    if infra.nats and infra.nats.process:
        used["nats-server"] = process_cpu_seconds(infra.nats.process.pid)
    pidfile = infra.postgres.pgdata / "postmaster.pid" if infra.postgres else None
    if pidfile and pidfile.exists():
        used["postgres"] = _tree_cpu_seconds(psutil.Process(int(pidfile.read_text().splitlines()[0])))
    return used


def _tree_cpu_seconds(root: Any) -> float:
    """A process's CPU, its live children's, and its ended children's (reaped into its
    ``children_*`` times): a backend that ends between two readings neither fails the reading
    (it once failed a whole e2e run) nor takes its CPU out of the sum."""
    import psutil

    own = root.cpu_times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in root.children():
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def infra_cpu_seconds(infra: Infrastructure) -> float:
    """CPU used so far by NATS and Postgres together."""
    return sum(infra_cpu_by_process(infra).values())


def wire_peers(procs: dict[str, ServiceProcess]) -> None:
    """Tell the services that call a peer's HTTP API where it runs, with a service token of
    their scope, as ``robson up`` does (the benchmarks' ports are not the defaults). Call
    before ``start_services``; the token verifies with the test key the services get."""
    from robson_cli.launcher import SERVICE_SCOPES, peer_urls
    from robson_kit.testing.auth import token

    urls = {name: proc.url for name, proc in procs.items()}
    for name, proc in procs.items():
        proc.env.update(peer_urls(name, urls))
        if name in SERVICE_SCOPES:
            proc.env[f"ROBSON_{name.upper()}_SERVICE_TOKEN"] = token(
                *SERVICE_SCOPES[name], subject=f"service:{name}")


async def start_services(procs: dict[str, ServiceProcess]) -> None:
    """Start every service, then wait until each is ready; after a failure none runs on."""
    try:
        for proc in procs.values():
            proc.start(ready=False)
        for proc in procs.values():
            await asyncio.to_thread(proc.wait_ready, 180.0)
    except BaseException:
        for proc in procs.values():
            proc.stop()
        raise


MARKET_SYMBOLS = tuple(f"B{i:02d}USDT" for i in range(10))
MARKET_TICK_RATE = 20
"""The steady market of bench_market and bench_e2e: 10 symbols × 20 ticks/s."""
MARKET_WARM_SECONDS = 3.0


async def steady_market(bus: Bus, stop: asyncio.Event, symbols: tuple[str, ...] = MARKET_SYMBOLS,
                        rate: float = MARKET_TICK_RATE) -> None:
    """Every symbol ticks ``rate`` times a second on a fixed schedule, independent of any load,
    the symbols' ticks spread evenly (one every ``1 / (rate × len(symbols))`` s, round robin),
    as a live feed's trades arrive: one by one, not every symbol at the same instant (ticks
    published together reach each service together, one wakeup for many, which understated a
    live market's cost about threefold). The price walks a cent a tick, as a live market's
    does (a tick that repeats the last price costs less for a service that skips what changes
    nothing). Each publish waits for JetStream's acknowledgement, as ``signal``'s feed does."""
    start, n = time.perf_counter(), 0
    step = 1 / (rate * len(symbols))
    while not stop.is_set():
        symbol, round_ = symbols[n % len(symbols)], n // len(symbols)
        await bus.publish(TradeTick(
            occurred_at=datetime.now(UTC), symbol=symbol,
            price=Decimal(100) + Decimal(round_ % 50) / 100, trade_id=uuid.uuid4().hex,
            source="EXTERNAL"))
        n += 1
        await asyncio.sleep(max(0.0, start + n * step - time.perf_counter()))


FEED = "feed (bench)"
"""This process's own CPU: publishing the ticks, the job ``signal`` does in production (its
Binance feed) — reported beside the platform's total, not in it."""


def cpu_now(procs: dict[str, ServiceProcess], infra: Infrastructure) -> dict[str, float]:
    """CPU seconds used so far by each service process, NATS and Postgres, and this process."""
    now = {name: process_cpu_seconds(p.proc.pid) for name, p in procs.items() if p.proc}
    return now | infra_cpu_by_process(infra) | {FEED: time.process_time()}


async def market_cpu_windows(procs: dict[str, ServiceProcess], infra: Infrastructure,
                             windows: int, seconds: float, label: str = "market window",
                             ) -> tuple[list[float], dict[str, list[float]]]:
    """The market's cost as a share of one core, over ``windows`` windows of ``seconds``:
    each window's total over the services, NATS and Postgres, and each process's share (the
    feed's too). The market must already be running and the services warm (one measurement
    for bench_market and bench_e2e: same processes, same market, same warm-up)."""
    return await cpu_windows(lambda: cpu_now(procs, infra), windows, seconds, label)


async def cpu_windows(now: Callable[[], dict[str, float]], windows: int, seconds: float,
                      label: str) -> tuple[list[float], dict[str, list[float]]]:
    """``now``'s CPU seconds per process, as shares of one core over ``windows`` windows of
    ``seconds``: each window's total (the feed's share left out) and each process's shares."""
    totals: list[float] = []
    shares: dict[str, list[float]] = {}
    for _ in range(windows):
        before, started = now(), time.perf_counter()
        await asyncio.sleep(seconds)
        after, elapsed = now(), time.perf_counter() - started
        used = {n: (after[n] - before.get(n, 0.0)) / elapsed * 100 for n in after}
        platform = {n: pct for n, pct in used.items() if n != FEED}
        totals.append(sum(platform.values()))
        for name, pct in used.items():
            shares.setdefault(name, []).append(pct)
        print(f"  {label}: {totals[-1]:.1f}% of a core — " + ", ".join(
            f"{n} {p:.1f}%" for n, p in sorted(platform.items(), key=lambda kv: -kv[1]))
            + (f"; {FEED} {used[FEED]:.1f}%" if FEED in used else ""), flush=True)
    return totals, shares


def share_note(per: dict[str, float]) -> str:
    platform = sorted(((n, p) for n, p in per.items() if n != FEED), key=lambda kv: -kv[1])
    note = ", ".join(f"{n} {p:.1f}%" for n, p in platform)
    return note + (f"; not counted: {FEED} {per[FEED]:.1f}%" if FEED in per else "")


def stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every benchmark fixture process, then reap each (killed after 10 s)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
