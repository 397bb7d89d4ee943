"""The fence: whether this process may act (consume, run its loops) right now.

It is open only while the process holds its service's lock (``robson_kit.singleton``).
Consumers and supervised loops run their work through ``Fence.while_held``: the work starts once
the fence is open and is cancelled the moment it closes, and it starts again, from the
beginning, when the fence opens again. Work cancelled that way is not a failure: a consumer's
unacked messages come back after ``ack_wait`` (the inbox drops what was already committed), a
loop restarts from its top.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Fenced(Exception):
    """The work was cancelled because the fence closed (the service lock was lost)."""


class Fence:
    def __init__(self, reason: str = "not started") -> None:
        self._open = asyncio.Event()
        self._closed = asyncio.Event()
        self._closed.set()
        self.reason = reason
        """Why the fence is closed (for ``/readyz``); meaningless while it is open."""

    @property
    def held(self) -> bool:
        return self._open.is_set()

    def open(self) -> None:
        self._closed.clear()
        self._open.set()

    def close(self, reason: str) -> None:
        """Close (or keep closed) with ``reason``: every ``while_held`` is cancelled at once."""
        self.reason = reason
        self._open.clear()
        self._closed.set()

    async def wait_held(self) -> None:
        await self._open.wait()

    async def while_held(self, work: Callable[[], Awaitable[T]]) -> T:
        """Wait for the fence to open, then run ``work()``; if the fence closes before the work
        ends, cancel it and raise ``Fenced`` (whatever the work did with its cancellation)."""
        await self._open.wait()
        run = asyncio.ensure_future(work())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((run, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the caller is cancelled: the work never outlives it
            closed.cancel()
            fenced = not run.done()
            if fenced:
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
        if fenced:
            raise Fenced(self.reason)
        return run.result()
