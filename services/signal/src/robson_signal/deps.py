"""What the signal service's hooks and routes use, and the service typed by it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from robson_kit.service import Service

from robson_signal.adapters.activity import Activity
from robson_signal.adapters.pipeline import Pipeline, ResumableBars
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.feedstatus import FeedStatus


@dataclass
class FeedRun:
    """What outlives one run of the feed loop: its input, read once, resumed after a restart."""

    bars: ResumableBars | None = None
    started: bool = False
    warmed: bool = False
    activity: Activity | None = None
    """Lockstep: what the platform is busy with (started with the feed, kept across restarts)."""


@dataclass(frozen=True)
class SignalDeps:
    strategy_engine: StrategyEngine
    feed_status: FeedStatus
    pipeline: Pipeline
    feed_start: asyncio.Event
    """Set by ``feed_autostart`` or ``POST /feed/start``; the feed loop waits for it."""
    feed_run: FeedRun


SignalService = Service[SignalDeps]
