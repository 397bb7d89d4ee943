"""``GateWatch`` against a local server answering like entry_gate's ``GET /policies/{account}``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from robson_kit.embedded import free_port
from robson_kit.testing.http import json_server
from robson_signal.adapters.gate_watch import GateWatch

POLICIES = {"calm": (False, False), "watched": (True, False), "daily": (False, True)}
SEEN: list[tuple[str, str | None]] = []


def _gate(path: str, headers: dict[str, str]) -> tuple[int, Any]:
    SEEN.append((path, headers.get("Authorization")))
    account = path.rsplit("/", 1)[-1]
    if account not in POLICIES:
        return 500, None
    drawdown, daily = POLICIES[account]
    return 200, {"account_id": account, "configured": True, "policy": {
        "drawdown": {"enabled": drawdown}, "daily_loss": {"enabled": daily}}}


@pytest.fixture
def gate_url() -> Iterator[str]:
    SEEN.clear()
    with json_server(_gate) as url:
        yield url


async def test_gate_watch_is_off_only_when_both_loss_watches_are_off(gate_url: str) -> None:
    watch = GateWatch(gate_url, token="t0k")
    try:
        assert await watch.off("calm")
        assert not await watch.off("watched") and not await watch.off("daily")
        assert not await watch.off("broken")  # the gate failed: ticks go out
        assert SEEN[0] == ("/policies/calm", "Bearer t0k")
        asked = len(SEEN)
        assert await watch.off("calm") and len(SEEN) == asked  # remembered
        watch.forget("calm")
        assert await watch.off("calm") and len(SEEN) == asked + 1  # asked again
    finally:
        await watch.close()


async def test_gate_watch_with_the_gate_unreachable_says_the_watch_may_be_on() -> None:
    watch = GateWatch(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    try:
        assert not await watch.off("calm")
    finally:
        await watch.close()
