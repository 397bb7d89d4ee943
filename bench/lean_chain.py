"""The floor: a lean 5-hop exactly-once chain (``bench/lean_hop.py``) measured with the same
load shape as the platform's end-to-end benchmark, in the same bench invocation, so Robson's
figures can be quoted as ratios to what this host does for the same guarantees.

Phases, as in ``bench_e2e``: 5 msg/s (the chain's own latency), 50 msg/s, then a burst of
1,000 drained as fast as the chain goes. CPU is the hop processes' plus NATS's and Postgres's.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.api import StorageType, StreamConfig
from robson_kit.embedded import Infrastructure

from bench.common import infra_cpu_seconds, median, percentile, process_cpu_seconds, stop_processes
from bench.lean_hop import STREAM, subject

HOPS = 5
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LeanFigures:
    p50_at_5: float
    p99_at_5: float
    p50_at_50: float
    p99_at_50: float
    cpu_ms_per_msg_at_50: float
    burst_per_s: float
    cpu_ms_per_msg_burst: float


class _Latencies:
    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.all_done = asyncio.Event()
        self.expected = 0

    async def on_end(self, msg: nats.aio.msg.Msg) -> None:
        key = json.loads(msg.data)["key"]
        if key in self.sent and key not in self.done:
            self.done[key] = time.perf_counter()
            if len(self.done) >= self.expected:
                self.all_done.set()

    def reset(self, expected: int) -> None:
        self.sent.clear()
        self.done.clear()
        self.all_done.clear()
        self.expected = expected

    def millis(self) -> list[float]:
        return [(self.done[k] - self.sent[k]) * 1000 for k in self.done]


def _cpu(pids: list[int], infra: Infrastructure) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids) + infra_cpu_seconds(infra)


async def _phase(js, lat: _Latencies, prefix: str, n: int, rate: float | None) -> float:
    lat.reset(n)
    start = time.perf_counter()
    for i in range(n):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        key = f"{prefix}{i}"
        lat.sent[key] = time.perf_counter()
        doc = {"id": f"{prefix}-{i}", "key": key, "symbol": "BTCUSDT", "price": "100"}
        await js.publish(subject(0), json.dumps(doc).encode(), headers={"Nats-Msg-Id": doc["id"]})
    await asyncio.wait_for(lat.all_done.wait(), timeout=180)
    return time.perf_counter() - start


async def measure(infra: Infrastructure) -> LeanFigures:
    nc = await nats.connect(infra.nats_url, name="bench-lean")
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["lean.>"], storage=StorageType.FILE,
                                     duplicate_window=600))
    lat = _Latencies()
    sub = await nc.subscribe(subject(HOPS), cb=lat.on_end)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.lean_hop", str(i), str(HOPS),  # noqa: ASYNC220
                               infra.nats_url, infra.database_url], cwd=ROOT)
             for i in range(HOPS)]
    try:
        await asyncio.sleep(3)  # schemas, consumers
        await _phase(js, lat, "warm", 20, 20)
        await _phase(js, lat, "slow", 40, 5)
        slow = lat.millis()
        before = _cpu([p.pid for p in procs], infra)
        await _phase(js, lat, "paced", 500, 50)
        paced, paced_cpu = lat.millis(), _cpu([p.pid for p in procs], infra) - before
        before = _cpu([p.pid for p in procs], infra)
        elapsed = await _phase(js, lat, "burst", 1000, None)
        burst_cpu = _cpu([p.pid for p in procs], infra) - before
    finally:
        stop_processes(procs)
        await sub.unsubscribe()
        await js.delete_stream(STREAM)
        await nc.close()
    return LeanFigures(
        p50_at_5=median(slow), p99_at_5=percentile(slow, 99),
        p50_at_50=median(paced), p99_at_50=percentile(paced, 99),
        cpu_ms_per_msg_at_50=paced_cpu * 1000 / 500,
        burst_per_s=1000 / elapsed, cpu_ms_per_msg_burst=burst_cpu * 1000 / 1000,
    )
