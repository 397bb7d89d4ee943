"""Chaos: the whole platform (six services as processes on real NATS + Postgres) on a seeded
replay that opens and closes several positions with take-profits and stop-outs. Each scenario
injects a fault mid-replay and must end with positions, fills, realized P&L, balances and the
gate's projection identical to the clean run, and no dead letter it did not poison on purpose.

Scenario 5 (execution against the fake exchange with its database interrupted for 10 s:
every accepted live order placed exactly once) is
``services/execution/tests/test_database_outage.py``.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest
from robson_kit.testing import wait_until

from .platform import SERVICES, ChaosPlatform, Reference, projection, report

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(900)]
KILLS = 20
SEED = int(os.environ.get("ROBSON_CHAOS_SEED", "1515"))


def assert_same(clean: Reference, state: dict[str, Any]) -> None:
    for key in ("positions", "fills", "balances", "gate"):
        assert state[key] == clean.state[key], f"{key} differ from the clean run"


async def mid_replay(platform: ChaosPlatform) -> None:
    await wait_until(platform.some_position_open, timeout=300, interval=0.2,
                     message="a position opened")
    assert not (await platform.feed())["finished"], "the fault must land mid-replay"


async def test_clean_replay_opens_and_closes_positions_with_take_profits_and_stops(
    clean: Reference,
) -> None:
    positions = clean.state["positions"]
    closed = [p for p in positions if p["status"] == "CLOSED"]
    exits = {p["exit_reason"] for p in closed} | {
        c["reason"] for p in positions for c in p["closes"]}
    assert len(closed) >= 3, positions
    assert "TAKE_PROFIT" in exits and exits & {"STOP_LOSS", "TRAILING_STOP", "BREAKEVEN_STOP"}
    assert clean.outcome.dead_letters == []


async def test_twenty_sigkills_of_random_services_end_identical_to_clean_run(
    clean: Reference, new_platform
) -> None:
    rng = random.Random(SEED)
    print(f"\n[chaos] SIGKILL seed {SEED} (set ROBSON_CHAOS_SEED to replay another)")
    platform: ChaosPlatform = await new_platform()
    await platform.start_feed()
    killed: list[str] = []
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.1, 3.0))
        name = rng.choice(SERVICES)
        killed.append(name)
        await platform.kill_and_restart(name)
    outcome = await platform.finish()
    state = projection(outcome)
    assert outcome.dead_letters == [], [m.data[:300] for m in outcome.dead_letters]
    assert_same(clean, state)
    counts = {n: killed.count(n) for n in SERVICES}
    report("20 SIGKILLs", platform, state, f"seed {SEED}, kills {counts}")
