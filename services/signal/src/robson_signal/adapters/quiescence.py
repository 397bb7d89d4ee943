"""Lockstep replay: wait until the platform has drained what was published so far.

Quiet means: every durable, explicitly acknowledged consumer on the Robson streams (the
services' consumers, not ad-hoc readers) has nothing pending and nothing unacknowledged, and
no stream grew, over ``window`` seconds. The window covers the short gap between a consumer's
commit + ack and its outbox relay publishing the events of that commit.
A stopped service keeps its durable consumers, so its backlog holds the replay until it is back.
"""

from __future__ import annotations

import asyncio
import time

from robson_kit.backlog import bus_backlog
from robson_kit.bus import Bus
from robson_kit.logs import get_logger

log = get_logger(__name__)


class Quiescence:
    def __init__(
        self, bus: Bus, window: float = 0.015, poll: float = 0.003, warn_after: float = 30.0
    ) -> None:
        self.bus, self.window, self.poll, self.warn_after = bus, window, poll, warn_after
        self.waits = 0
        self.waited_seconds = 0.0

    async def snapshot(self) -> tuple[bool, tuple[int, ...]]:
        """(every service consumer drained, last sequence of every watched stream)."""
        backlog = await bus_backlog(self.bus.js)
        return backlog.pending == 0, backlog.sequences

    async def wait(self) -> None:
        """Return once the platform is quiet (blocks for as long as a service is down)."""
        started = time.monotonic()
        warned = False
        while True:
            idle, before = await self.snapshot()
            if idle:
                await asyncio.sleep(self.window)
                idle, after = await self.snapshot()
                if idle and after == before:
                    break
            else:
                await asyncio.sleep(self.poll)
            if not warned and time.monotonic() - started > self.warn_after:
                log.warning("lockstep.waiting", seconds=round(time.monotonic() - started, 1))
                warned = True
        self.waits += 1
        self.waited_seconds += time.monotonic() - started
