"""Crash mid-lifecycle (SIGKILL of the real process), restart: no fill lost or double-counted."""

from __future__ import annotations

import asyncpg
import httpx
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, wait_until
from robson_position.domain.orders import position_id_for

from .conftest import position_env
from .factories import T0, D, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import _replaced, candle


def _status(url: str, pid: str, status: str):
    async def check() -> dict | None:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=url, timeout=5) as c:
            r = await c.get(f"/positions/{pid}")
        return r.json() if r.status_code == 200 and r.json()["status"] == status else None
    return check


async def _exited(proc: ServiceProcess) -> bool:
    return proc.proc is not None and proc.proc.poll() is not None


async def test_killed_mid_lifecycle_and_restarted_counts_every_fill_exactly_once(
    bus: Bus, venue: FakeVenue, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = position_env(nats_url, database_url, schema)
    port_env = "ROBSON_POSITION_HTTP_PORT"
    first = ServiceProcess("robson_position", env, port_env, tmp_path / "a.log").start()
    crashing = healthy = None
    try:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=first.url) as c:
            r = await c.put("/traders/t1/policy", json={"breakeven_trigger_pct": "2"})
            assert r.status_code == 200
        g = gate(gate_id="g-kill")
        pid = position_id_for(g.gate_decision_id)
        await bus.publish(g)
        await wait_until(_status(first.url, pid, "OPEN"), message="open before the crash")
        first.kill()
        # While position is down, TP1 fills on the venue.
        await venue.move("51000", T0 + minutes(3))
        # The next process dies right after committing its first message, before the ack.
        crashing = ServiceProcess("robson_position", {**env, "ROBSON_FAULTS": "consumer.after_commit"},
                                  port_env, tmp_path / "b.log").start(ready=False)
        await wait_until(lambda: _exited(crashing), timeout=60, message="crash after commit")
        healthy = ServiceProcess("robson_position", env, port_env, tmp_path / "c.log").start()
        await wait_until(_status(healthy.url, pid, "PARTIALLY_CLOSED"), timeout=30, message="TP1 applied")
        await bus.publish(candle(0, "50000", "51000", "49950", "50900"))
        await wait_until(lambda: _replaced(venue), timeout=30, message="stop to breakeven")
        await venue.move("50000", T0 + minutes(12))
        view = await wait_until(_status(healthy.url, pid, "CLOSED"), timeout=30, message="closed")
        assert D(view["realized_pnl"]) == D("79.9")
        assert [D(c["quantity"]) for c in view["closes"]] == [D("0.1"), D("0.1")]
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            assert await conn.fetchval("SELECT count(*) FROM fills WHERE position_id=$1", pid) == 3
        finally:
            await conn.close()
    finally:
        for proc in (first, crashing, healthy):
            if proc is not None:
                proc.stop()
