"""The platform under chaos: the e2e harness (six services as processes, configured as
`robson up` does, fed the seeded replay in lockstep) on a NATS and a Postgres of the suite's
own, which a scenario may stop and start; and what a run is compared on."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from robson_kit.bus import Bus
from robson_kit.embedded import EmbeddedNats, EmbeddedPostgres
from robson_kit.testing import read_stream, reset_streams
from robson_kit.testing.outage import Outage
from sqlalchemy.engine import make_url

E2E = Path(__file__).parent.parent / "e2e"


REPORTS: list[str] = []
"""Each scenario's line, printed again at the end of the session (without ``-s`` too)."""


def _load(name: str) -> ModuleType:
    """A module of tests/e2e, shared rather than copied (under pytest's importlib mode the
    test trees are not packages of one another)."""
    module_name = f"robson_chaos_e2e_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, E2E / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


harness = _load("harness")
market = _load("market")
SERVICES: tuple[str, ...] = harness.SERVICES
CANDLES = 120
"""Per symbol, in the seeded replay."""
REPLAY_CANDLES = CANDLES * len(harness.SYMBOLS)


@dataclass
class ChaosInfra:
    directory: Path
    nats: EmbeddedNats = field(init=False)
    postgres: EmbeddedPostgres = field(init=False)

    def start(self) -> ChaosInfra:
        self.nats = EmbeddedNats(self.directory / "nats").start()
        self.postgres = EmbeddedPostgres(self.directory / "pg").start()
        return self

    def stop(self) -> None:
        self.nats.stop()
        self.postgres.stop()

    async def postgres_down(self, seconds: float) -> None:
        """Stop the server (fast shutdown: every connection cut), wait, start the same data
        directory on the same port."""
        await asyncio.to_thread(self.postgres.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.postgres.start)

    async def postgres_failover(self, refusing: float, read_only: float) -> None:
        """A failover as the services' database sees it: connections refused and every open
        one cut (the primary goes), then connections taken but read-only (a standby not yet
        promoted), then writable again with the read-only sessions cut (promoted)."""
        admin = make_url(self.postgres.url).set(database="postgres").render_as_string(
            hide_password=False)
        database = Outage(admin, make_url(self.postgres.url).database or "")
        await database.begin()
        await asyncio.sleep(refusing)
        await database.begin_read_only()
        await asyncio.sleep(read_only)
        await database.end()

    async def nats_down(self, seconds: float) -> None:
        """Stop nats-server, wait, start it on the same port and JetStream store."""
        await asyncio.to_thread(self.nats.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.nats.start)


class ChaosPlatform:
    def __init__(self, infra: ChaosInfra, bus: Bus, dataset: Path, logs: Path) -> None:
        self.infra, self.bus = infra, bus
        self.p = harness.Platform(infra.nats.url, infra.postgres.url, dataset, logs)
        self.started_at = 0.0

    async def launch(self) -> None:
        await reset_streams(self.bus)
        await self.p.start()
        await self.p.configure()

    async def start_feed(self) -> None:
        self.started_at = time.monotonic()
        await self.p.start_feed()

    async def kill_and_restart(self, name: str) -> None:
        """SIGKILL, start again without waiting for it (the next kill may land while it is
        still starting); signal is waited for, as its feed needs ``/feed/start`` again."""
        if name == "signal":
            await self.p.restart(name)
            await self.p.start_feed()
            return
        proc = self.p.procs[name]
        proc.kill()
        proc.start(ready=False)

    async def restart_with_faults(self, name: str, faults: str) -> None:
        """SIGKILL, then start again with ``ROBSON_FAULTS=faults`` armed for that life (a
        service that starts itself again does so without them)."""
        proc = self.p.procs[name]
        proc.env = {**proc.env, "ROBSON_FAULTS": faults}
        await self.kill_and_restart(name)

    async def all_ready(self) -> None:
        for proc in self.p.procs.values():
            await asyncio.to_thread(proc.wait_ready, 120.0)

    async def get(self, name: str, path: str, **params: Any) -> Any:
        return await self.p.get(name, path, **params)

    async def feed(self) -> dict[str, Any]:
        return await self.get("signal", "/feed")

    async def some_position_open(self) -> bool:
        return bool(await self.get("position", "/positions", status="open"))

    async def finish(self, timeout: float = 300.0) -> Any:
        await self.p.wait_finished(self.bus, timeout=timeout)
        return await harness.collect(self.p, self.bus)

    async def dead_letters(self) -> list[Any]:
        return await read_stream(self.bus, "robson.dlq.>", raw=True)

    def stop(self) -> None:
        self.p.stop()


def projection(outcome: Any) -> dict[str, Any]:
    """What no fault may change: positions (entries, exits, realized P&L, fees), every fill,
    the balances, and entry_gate's risk projection as of the replay's last event time."""
    return {**outcome.final_state(), "gate": outcome.risk}


@dataclass
class Reference:
    outcome: Any
    state: dict[str, Any]
    seconds: float


def summary(state: dict[str, Any]) -> str:
    positions = state["positions"]
    closed = [p for p in positions if p["status"] == "CLOSED"]
    exits = sorted({p["exit_reason"] for p in closed if p["exit_reason"]})
    usdt = next(b for b in state["balances"] if b["asset"] == "USDT")
    pnl = sum(float(p["realized_pnl"] or 0) for p in closed)
    return (f"{len(positions)} positions ({len(closed)} closed; exits {', '.join(exits)}), "
            f"{len(state['fills'])} fills, realized P&L {pnl:.2f} USDT, USDT balance "
            f"{usdt['free']} free / {usdt['locked']} locked, gate projection "
            f"{len(state['gate'])} fields")


async def run_clean(new_platform: Callable[[], Awaitable[ChaosPlatform]]) -> Reference:
    platform = await new_platform()
    await platform.start_feed()
    outcome = await platform.finish()
    seconds = time.monotonic() - platform.started_at
    state = projection(outcome)
    REPORTS.append(f"clean reference run: {seconds:.1f} s; {summary(state)}")
    print(f"\n[chaos] {REPORTS[-1]}")
    return Reference(outcome, state, seconds)


def report(name: str, platform: ChaosPlatform, state: dict[str, Any], detail: str = "") -> None:
    seconds = time.monotonic() - platform.started_at
    REPORTS.append(f"{name}: {seconds:.1f} s{'; ' + detail if detail else ''}; compared with the "
                   f"clean run: positions, fills, realized P&L, balances, gate projection — "
                   f"{summary(state)}")
    print(f"\n[chaos] {REPORTS[-1]}")
