"""When the approval loop must next look at the held decisions, so that an idle decision service
does not poll its table several times a second.

The table is the truth: after each sweep the loop reads the earliest open cancel window. A
decision held with a window after that read announces it here once committed, and wakes the
loop if it ends sooner. A regular sweep (``IDLE_SWEEP_SECONDS``) catches anything else (a window
another process opened)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

IDLE_SWEEP_SECONDS = 30.0


class ApprovalTimer:
    def __init__(self) -> None:
        self.earliest: datetime | None = None
        self._changed = asyncio.Event()

    def held_until(self, until: datetime) -> None:
        """A decision now waits until ``until`` (call after its commit)."""
        if self.earliest is None or until < self.earliest:
            self.earliest = until
            self._changed.set()

    def sweeping(self) -> None:
        """A sweep begins: what it reads replaces what is known, except windows announced after
        this call (see ``swept``)."""
        self._changed.clear()
        self.earliest = None

    def swept(self, earliest_open: datetime | None) -> None:
        """The sweep's reading: the earliest window still open in the table, if any."""
        if earliest_open is not None and (self.earliest is None or earliest_open < self.earliest):
            self.earliest = earliest_open

    def delay(self, now: datetime, least: float, most: float = IDLE_SWEEP_SECONDS) -> float:
        """Seconds until the next sweep: the earliest window's end, no sooner than ``least``
        after the last sweep (a run of windows a few ms apart is taken together), no later than
        ``most``."""
        if self.earliest is None:
            return most
        return min(max((self.earliest - now).total_seconds(), least), most)

    async def wait(self, now: datetime, least: float, most: float = IDLE_SWEEP_SECONDS) -> None:
        """Until the next sweep is due, or at once if a window was announced since ``sweeping``
        (it may end before the one this waits for)."""
        if self._changed.is_set():
            await asyncio.sleep(least)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), self.delay(now, least, most))
