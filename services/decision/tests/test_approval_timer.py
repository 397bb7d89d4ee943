"""The approval loop sleeps until the earliest cancel window ends instead of polling its table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from robson_decision.handlers.approval_timer import IDLE_SWEEP_SECONDS, ApprovalTimer

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def test_timer_with_no_open_window_waits_for_the_idle_sweep_not_the_poll_interval() -> None:
    timer = ApprovalTimer()
    timer.sweeping()
    timer.swept(None)
    assert timer.delay(NOW, least=0.25) == IDLE_SWEEP_SECONDS


def test_timer_wakes_at_the_earliest_window_but_no_sooner_than_the_poll_interval() -> None:
    timer = ApprovalTimer()
    timer.sweeping()
    timer.swept(NOW + timedelta(seconds=4))
    assert timer.delay(NOW, least=0.25) == 4
    assert timer.delay(NOW + timedelta(seconds=3.9), least=0.25) == 0.25


def test_window_announced_during_a_sweep_is_not_lost_to_the_sweeps_older_reading() -> None:
    timer = ApprovalTimer()
    timer.sweeping()
    timer.held_until(NOW + timedelta(seconds=1))  # committed while the sweep read the table
    timer.swept(NOW + timedelta(seconds=10))
    assert timer.earliest == NOW + timedelta(seconds=1)


async def test_sleeping_timer_wakes_when_a_sooner_window_opens() -> None:
    timer = ApprovalTimer()
    timer.sweeping()
    timer.swept(None)
    sleeper = asyncio.create_task(timer.wait(NOW, least=0.01))
    await asyncio.sleep(0.05)
    assert not sleeper.done()
    timer.held_until(NOW + timedelta(seconds=2))
    await asyncio.wait_for(sleeper, 1)  # woken: not left to the idle sweep's 30 s
