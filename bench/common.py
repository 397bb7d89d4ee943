"""What every benchmark returns, and the statistics they quote (medians and percentiles)."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

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
        root = psutil.Process(int(pidfile.read_text().splitlines()[0]))
        used["postgres"] = sum(sum(p.cpu_times()[:2]) for p in [root, *root.children()])
    return used


def infra_cpu_seconds(infra: Infrastructure) -> float:
    """CPU used so far by NATS and Postgres together."""
    return sum(infra_cpu_by_process(infra).values())


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
